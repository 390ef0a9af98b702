//! The volumes a Pod-level sidecar gets, as Tekton's `workspace.Apply` (`pkg/workspace/apply.go`) gives
//! them to a Task's sidecar: its own `volumeMounts` (on volumes the Pod has), the workspaces it lists, and
//! the workspaces the Task shares with every sidecar.
//!
//! When the Task was read from the cluster (`super::task`), its declarations decide, on the TaskRun's own
//! bindings. Otherwise the Pod shows what Tekton mounted, not why, so some of it is inferred, and only
//! from evidence:
//!
//! * a workspace is shared (Tekton mounts it into every sidecar) only when every step mounts it alike and
//!   either two steps or more do, or a sidecar of the Task has it too: a one-step Task whose step lists
//!   the workspace (Tekton then mounts it into that step alone) looks the same as a shared one, and a
//!   sidecar must not get more than Tekton would give it;
//! * a listed workspace's volume and `subPath` come from the TaskRun's bindings (carried on the
//!   `<prefix>/taskrun.json` annotation) the way `CreateVolumes` makes them, its `readOnly` from a
//!   container that mounts it (read-only when none does), and its path, unless the sidecar gives one, from
//!   the shared mount or Tekton's default `/workspace/<name>`.
//!
//! A listed workspace adds a mount and takes none away: unlike a Task's own sidecar, a declared one does
//! not make the workspace isolated, so the steps keep theirs.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value};

use super::context::{Binding, TaskRunContext};
use super::task::TaskWorkspaces;
use crate::support::error::{FieldError, listed};
use crate::support::json::{array, by_name};
use crate::tekton::safe_for_template;
use crate::tekton::sidecar::{Sidecar, internal_volume_problem, text};
use crate::tekton::variables::{has_variable, pod_level_variable};
use crate::tekton::workspaces::{is_workspace_volume, workspace_volume};
use crate::tekton::{CONTAINER_PREFIX, RESERVED_NAME, STEP_PREFIX, WORKSPACE_DIR};

/// What the Pod already has that a sidecar may use.
pub(super) struct PodView<'a> {
    /// The Pod's volumes that a sidecar to be built may use: a Pod may have thousands of volumes, and
    /// only the few named by the sidecars, the steps' mounts and the bindings are looked up.
    volumes: BTreeSet<&'a str>,
    /// All of the Pod's volumes, for a message.
    all_volumes: &'a [Value],
    /// The message's list of the volumes a sidecar may mount, made once, when a first mount is refused.
    mountable: OnceCell<String>,
    /// Each step's mounts of workspace volumes.
    steps: Vec<Vec<&'a Value>>,
    /// Each of the Task's own sidecars' mounts.
    task_sidecars: Vec<Vec<&'a Value>>,
    /// The mounts Tekton gives every sidecar, in the steps' order.
    shared: Vec<&'a Value>,
    /// The steps' and the Task's sidecars' mounts, and the shared ones, by volume, in that order: a
    /// sidecar may list thousands of workspaces.
    /// Made when a listed workspace first needs them.
    mounts_by_volume: OnceCell<BTreeMap<&'a str, Vec<&'a Value>>>,
    shared_by_volume: OnceCell<BTreeMap<&'a str, Vec<&'a Value>>>,
    context: Option<TaskRunContext>,
    /// The context's bindings by workspace name: the first of a name, as a search finds it.
    bindings: BTreeMap<String, usize>,
    /// The Task's declarations, when it was read and the context's bindings are on this Pod's volumes,
    /// and the mounts they give every sidecar, in the bindings' order: then nothing is inferred.
    task: Option<(TaskWorkspaces, Vec<Value>)>,
}

/// What a listed workspace comes to.
pub(super) enum Listed {
    /// The mount to add.
    Mount(Value),
    /// Not bound to this TaskRun: nothing to mount, as Tekton does for an optional workspace.
    Unbound(String),
}

impl<'a> PodView<'a> {
    /// Reads the Pod, the TaskRun's bindings from `context`, and the Task's workspace declarations when
    /// they were read from the cluster, for the sidecars `sidecars` (as they will be built).
    pub(super) fn of<'s>(
        pod: &'a Value,
        context: Option<TaskRunContext>,
        task: Option<TaskWorkspaces>,
        sidecars: impl Iterator<Item = &'s Sidecar>,
    ) -> Self {
        let all_volumes = array(pod, "/spec/volumes");
        let mut wanted: BTreeSet<&str> = BTreeSet::new();
        for mount in sidecars.flat_map(|s| s.list("volumeMounts")) {
            wanted.insert(text(mount, "name"));
        }
        if let Some(context) = &context {
            wanted.extend(context.workspaces.iter().map(|b| b.volume.as_str()));
        }
        let volumes: BTreeSet<&str> = all_volumes
            .iter()
            .filter_map(|v| v.get("name").and_then(Value::as_str))
            .filter(|name| wanted.contains(name) || is_workspace_volume(name))
            .collect();
        // Whoever creates a TaskRun can write the context annotation: it may only narrow the volumes that
        // look like Tekton's workspace volumes, never name another. Before v0.59 Tekton named them at
        // random (`CreateVolumes` in `pkg/workspace/apply.go`), so no binding's name is the Pod's: its
        // workspace volumes are then read as without a context.
        let looks_like_workspaces = || volumes.iter().copied().filter(|v| is_workspace_volume(v));
        let bound: Option<BTreeSet<&str>> = context.as_ref().map(|context| {
            let named = context.workspaces.iter().map(|b| b.volume.as_str());
            named.filter(|v| is_workspace_volume(v)).collect()
        });
        let workspace_volumes: BTreeSet<&str> = match bound {
            Some(bound) if bound.is_empty() || bound.iter().any(|v| volumes.contains(v)) => bound,
            _ => looks_like_workspaces().collect(),
        };
        let mounts_of = |container: &'a Value| -> Vec<&'a Value> {
            array(container, "/volumeMounts")
                .iter()
                .filter(|m| workspace_volumes.contains(text(m, "name")))
                .collect()
        };
        let mut steps = Vec::new();
        let mut task_sidecars = Vec::new();
        let containers = array(pod, "/spec/containers").iter();
        for container in containers.chain(array(pod, "/spec/initContainers")) {
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.starts_with(STEP_PREFIX) {
                steps.push(mounts_of(container));
            } else if name.starts_with(CONTAINER_PREFIX)
                && name.strip_prefix(CONTAINER_PREFIX) != Some(RESERVED_NAME)
            {
                task_sidecars.push(mounts_of(container));
            }
        }
        let shared = shared(&steps, &task_sidecars);
        let mut bindings = BTreeMap::new();
        for (i, binding) in context.iter().flat_map(|c| &c.workspaces).enumerate() {
            bindings.entry(binding.name.clone()).or_insert(i);
        }
        let task = task.zip(context.as_ref()).and_then(|(task, context)| {
            let shared = declared_shared(&task, &context.workspaces, &volumes)?;
            Some((task, shared))
        });
        PodView {
            task,
            volumes,
            all_volumes,
            mountable: OnceCell::new(),
            mounts_by_volume: OnceCell::new(),
            shared_by_volume: OnceCell::new(),
            steps,
            task_sidecars,
            shared,
            context,
            bindings,
        }
    }

    /// The mount of workspace `usage` lists, or why there is none.
    fn listed(&self, usage: &Value) -> Result<Listed, String> {
        let name = text(usage, "name");
        let (volume, sub_path) = match &self.context {
            Some(context) => match self
                .bindings
                .get(name)
                .and_then(|i| context.workspaces.get(*i))
            {
                // A subPath with a variable is the reconciler's to substitute: the Pod shows what it made.
                Some(binding) if has_variable(&binding.sub_path) => {
                    let sub_path = self.shown_sub_path(&binding.volume);
                    (binding.volume.clone(), sub_path)
                }
                Some(binding) => (binding.volume.clone(), binding.sub_path.clone()),
                None => {
                    return Ok(Listed::Unbound(format!(
                        "workspace {name:?} is not bound: no mount for it"
                    )));
                }
            },
            None => {
                let volume = workspace_volume(name);
                if !self.volumes.contains(volume.as_str()) {
                    return Ok(Listed::Unbound(format!(
                        "workspace {name:?} has no volume in this Pod: no mount for it"
                    )));
                }
                let sub_path = self.shown_sub_path(&volume);
                (volume, sub_path)
            }
        };
        if let Some(problem) = internal_volume_problem(&volume) {
            return Err(problem);
        }
        if !is_workspace_volume(&volume) {
            return Err(format!(
                "workspace {name:?} is bound to volume {volume:?}, which is not a workspace volume (Tekton names those ws-<5 hex digits>): the annotation that carries the TaskRun's bindings was not written by this policy"
            ));
        }
        if !self.volumes.contains(volume.as_str()) {
            return Err(format!(
                "workspace {name:?} is bound to volume {volume:?}, which this Pod does not have: Tekton names workspace volumes by a hash of the workspace since v0.59 (tektoncd/pipeline#7887), and earlier releases at random; a workspace reaches a Pod-level sidecar on v0.59 or later"
            ));
        }
        let own_path = text(usage, "mountPath");
        // Tekton's mount of a listed workspace: the binding's, at the listing's path if it gives one.
        if let Some((task, _)) = &self.task {
            let binding = Binding {
                name: name.to_string(),
                volume,
                sub_path,
            };
            let own = Some(own_path).filter(|p| !p.is_empty());
            return Ok(Listed::Mount(task.mount(&binding, own)));
        }
        let same = |m: &&Value| text(m, "subPath") == sub_path;
        let read_only = match self.mounts_of(self.all_by_volume(), &volume).find(same) {
            Some(mount) => mount.get("readOnly").and_then(Value::as_bool) == Some(true),
            None => true,
        };
        let mount_path = if !own_path.is_empty() {
            own_path.to_string()
        } else {
            let shared = self
                .shared_by_volume
                .get_or_init(|| by_name(self.shared.iter().copied()));
            match self.mounts_of(shared, &volume).find(same) {
                Some(mount) => text(mount, "mountPath").to_string(),
                None => format!("{WORKSPACE_DIR}/{name}"),
            }
        };
        let mut mount = Map::new();
        mount.insert("name".to_string(), Value::String(volume));
        mount.insert("mountPath".to_string(), Value::String(mount_path));
        if !sub_path.is_empty() {
            mount.insert("subPath".to_string(), Value::String(sub_path));
        }
        if read_only {
            mount.insert("readOnly".to_string(), Value::Bool(true));
        }
        Ok(Listed::Mount(Value::Object(mount)))
    }

    /// The subPath the Pod's containers mount `volume` at: one subPath for every mount of the volume is
    /// the binding's; with several, none is.
    fn shown_sub_path(&self, volume: &str) -> String {
        let mut sub_paths = self
            .mounts_of(self.all_by_volume(), volume)
            .map(|m| text(m, "subPath"));
        let first = sub_paths.next().unwrap_or_default();
        match sub_paths.all(|other| other == first) {
            true => first.to_string(),
            false => String::new(),
        }
    }

    /// The volumes a sidecar may mount, for a message: "; the volumes a sidecar may mount are ...".
    fn mountable(&self) -> &str {
        self.mountable.get_or_init(|| self.list_mountable())
    }

    fn list_mountable(&self) -> String {
        let mut mountable: Vec<&str> = self
            .all_volumes
            .iter()
            .filter_map(|v| v.get("name").and_then(Value::as_str))
            .filter(|v| internal_volume_problem(v).is_none())
            .collect();
        if mountable.is_empty() {
            return String::new();
        }
        mountable.sort_unstable();
        format!(
            "; the volumes a sidecar may mount are {}",
            listed(mountable.into_iter())
        )
    }

    /// The steps' and the Task's sidecars' mounts by volume.
    fn all_by_volume(&self) -> &BTreeMap<&'a str, Vec<&'a Value>> {
        self.mounts_by_volume
            .get_or_init(|| by_name(self.all_mounts().copied()))
    }

    /// The mounts of `volume` in `index`.
    fn mounts_of<'s>(
        &'s self,
        index: &'s BTreeMap<&'a str, Vec<&'a Value>>,
        volume: &str,
    ) -> impl Iterator<Item = &'a Value> + 's {
        index.get(volume).into_iter().flatten().copied()
    }

    fn all_mounts(&self) -> impl Iterator<Item = &&'a Value> {
        self.steps.iter().chain(&self.task_sidecars).flatten()
    }

    /// The mounts Tekton gives every sidecar: as the Task declares them, or as the Pod shows them.
    fn shared(&self) -> Vec<&Value> {
        match &self.task {
            Some((_, shared)) => shared.iter().collect(),
            None => self.shared.clone(),
        }
    }
}

/// The mounts the Task's shared workspaces give every sidecar, one per binding in the bindings' order as
/// `Apply` makes them. None when a binding is not on a workspace volume this Pod has (a Tekton before
/// v0.59, or an annotation the policy did not write), where they would name volumes the Pod lacks; when
/// Tekton bound more than the TaskRun did; or when a binding's `subPath` holds a variable, which the
/// reconciler substitutes (`ApplyParametersToWorkspaceBindings`) and the Pod then shows.
fn declared_shared(
    task: &TaskWorkspaces,
    bindings: &[Binding],
    volumes: &BTreeSet<&str>,
) -> Option<Vec<Value>> {
    let on_the_pod =
        |b: &Binding| is_workspace_volume(&b.volume) && volumes.contains(b.volume.as_str());
    let literal = |b: &Binding| !has_variable(&b.sub_path);
    if !bindings.iter().all(|b| on_the_pod(b) && literal(b)) || !task.all_bound(bindings) {
        return None;
    }
    let shared = bindings.iter().filter(|b| task.is_shared(&b.name));
    Some(shared.map(|b| task.mount(b, None)).collect())
}

/// The mounts every step has alike, when that shows the workspace is shared: two steps or more, or a
/// sidecar of the Task with it too; and no sidecar of the Task without it (or a mount at its path). Of a
/// volume mounted alike at several paths, the last one.
///
/// A Pod may have thousands of mounts, at paths that share long prefixes, or alike but for a field:
/// each container's are hashed whole, and the first step's are read from the last, so that a volume
/// whose last mount is alike costs one lookup.
fn shared<'a>(steps: &[Vec<&'a Value>], task_sidecars: &[Vec<&'a Value>]) -> Vec<&'a Value> {
    let Some((first, rest)) = steps.split_first() else {
        return Vec::new();
    };
    let set = |mounts: &Vec<&'a Value>| mounts.iter().copied().collect::<HashSet<&Value>>();
    let rest: Vec<_> = rest.iter().map(set).collect();
    let sidecars: Vec<_> = task_sidecars.iter().map(set).collect();
    let sidecar_paths: Vec<HashSet<&str>> = task_sidecars
        .iter()
        .map(|mounts| mounts.iter().map(|m| text(m, "mountPath")).collect())
        .collect();
    let alike = |mount: &Value| {
        let every_step = rest.iter().all(|other| other.contains(mount));
        let seen_in_sidecar = sidecars.iter().any(|other| other.contains(mount));
        let path = text(mount, "mountPath");
        let every_sidecar = sidecar_paths.iter().all(|paths| paths.contains(path));
        every_step && (steps.len() >= 2 || seen_in_sidecar) && every_sidecar
    };
    // Tekton mounts a workspace once into a Task's sidecar; the steps' own mounts of its volume (through
    // `$(workspaces.<w>.volume)`) come before the one the step template gives them
    // (`mountAsSharedWorkspace` in pkg/workspace/apply.go), and the sidecar never gets those.
    let mut bound: HashSet<(&str, &str)> = HashSet::new();
    let mut last_alike: Vec<&'a Value> = Vec::new();
    for mount in first.iter().rev() {
        let binding = (text(mount, "name"), text(mount, "subPath"));
        if !bound.contains(&binding) && alike(mount) {
            bound.insert(binding);
            last_alike.push(mount);
        }
    }
    last_alike.reverse();
    last_alike
}

/// The warning for a sidecar of a Pod whose containers mount workspaces: which of them reach a Task's own
/// sidecar, and where, depends on the Task's declarations (`workspace.Apply` in `pkg/workspace/apply.go`:
/// isolation, declared mount paths), which a Pod does not all show.
pub(super) const AS_THE_POD_SHOWS: &str = "workspaces as this Pod shows them, not as the Task says";

/// The volume mounts of `sidecar` in this Pod, with the warnings for workspaces it gets no mount for, or
/// why it cannot have them.
pub(super) fn mounts(
    sidecar: &Sidecar,
    template: Option<&str>,
    pod: &PodView<'_>,
) -> Result<(Vec<Value>, Vec<String>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mounts: Vec<Value> = sidecar.list("volumeMounts").to_vec();
    for (i, mount) in mounts.iter().enumerate() {
        let name = text(mount, "name");
        if has_variable(name) {
            errors.push(pod_level_variable(&format!("volumeMounts[{i}].name"), name));
        } else if !pod.volumes.contains(name) {
            errors.push(FieldError::new(
                format!("volumeMounts[{i}].name"),
                format!(
                    "the Pod has no volume {name:?}{} (add a volume with the TaskRun's podTemplate, or use a workspace)",
                    pod.mountable()
                ),
            ));
        }
    }
    let mut mounts = Mounts::new(mounts);
    let mut listed = false;
    // A template's listing without a path of its own is mounted where the Task says, which a Task's
    // author chose: held to the same test as the shared workspaces below.
    let mut placed_by_the_task = Vec::new();
    for (i, usage) in sidecar.list("workspaces").iter().enumerate() {
        match pod.listed(usage) {
            Ok(Listed::Mount(mount)) => {
                listed = true;
                if template.is_some() && text(usage, "mountPath").is_empty() {
                    placed_by_the_task.push(mount);
                } else {
                    mounts.add(mount);
                }
            }
            Ok(Listed::Unbound(warning)) => warnings.push(warning),
            Err(problem) => errors.push(FieldError::new(format!("workspaces[{i}].name"), problem)),
        }
    }
    if listed {
        warnings.push(super::LISTING_SHARES.to_string());
    }
    // A template is the platform team's: a Task may not lay a volume over the files it runs.
    let shared: Vec<&Value> = placed_by_the_task.iter().chain(pod.shared()).collect();
    let paths: Vec<&str> = shared.iter().map(|m| text(m, "mountPath")).collect();
    let safe = match template {
        Some(_) => safe_for_template(&paths),
        None => vec![true; paths.len()],
    };
    for ((mount, path), safe) in shared.iter().zip(&paths).zip(safe) {
        match template {
            Some(_) if !safe => warnings.push(format!(
                "no Task workspace at {path:?}: outside {WORKSPACE_DIR}/"
            )),
            _ => mounts.add((*mount).clone()),
        }
    }
    if pod.task.is_none() && pod.all_mounts().next().is_some() {
        warnings.push(AS_THE_POD_SHOWS.to_string());
    }
    if errors.is_empty() {
        Ok((mounts.list, warnings))
    } else {
        Err(errors)
    }
}

/// A sidecar's volume mounts as Tekton's `AddSidecarVolumeMount` adds to them: a mount whose path the
/// sidecar already uses is not added again.
pub(super) struct Mounts {
    pub(super) list: Vec<Value>,
    /// The paths of `list`: a sidecar may get thousands of mounts.
    paths: BTreeSet<String>,
}

impl Mounts {
    pub(super) fn new(list: Vec<Value>) -> Self {
        let mut paths = BTreeSet::new();
        for mount in &list {
            paths.insert(text(mount, "mountPath").to_string());
        }
        Mounts { list, paths }
    }

    pub(super) fn add(&mut self, mount: Value) {
        if self.paths.insert(text(&mount, "mountPath").to_string()) {
            self.list.push(mount);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::context::Binding;
    use serde_json::json;

    fn mount(name: &str, path: &str) -> Value {
        json!({"name": name, "mountPath": path})
    }

    fn view(
        steps: Vec<Value>,
        sidecars: Vec<Value>,
        context: Option<TaskRunContext>,
    ) -> PodView<'static> {
        let mut containers: Vec<Value> = steps
            .into_iter()
            .enumerate()
            .map(|(i, mounts)| json!({"name": format!("step-{i}"), "volumeMounts": mounts}))
            .collect();
        containers.extend(
            sidecars.into_iter().enumerate().map(
                |(i, mounts)| json!({"name": format!("sidecar-own{i}"), "volumeMounts": mounts}),
            ),
        );
        let pod = json!({"spec": {"containers": containers, "volumes": [
            {"name": "ws-1bcf2"}, {"name": "ws-20573"}, {"name": "tekton-internal-bin"}, {"name": "cache"}]}});
        // A test's Pod lives as long as the test: leaking it lets the view borrow it.
        PodView::of(Box::leak(Box::new(pod)), context, None, std::iter::empty())
    }

    fn usage(name: &str, path: &str) -> Value {
        if path.is_empty() {
            json!({"name": name})
        } else {
            json!({"name": name, "mountPath": path})
        }
    }

    /// As Tekton builds a step that mounts its workspace's volume at a path of its own too: that mount
    /// first, the workspace's after it (see `TestPodBuild`-like cases in the oracle).
    #[test]
    fn a_step_s_own_mount_of_a_workspace_volume_is_not_shared() {
        let steps = || {
            json!([
                mount("ws-1bcf2", "/extra"),
                mount("ws-1bcf2", "/workspace/source"),
                mount("ws-20573", "/workspace/cache")
            ])
        };
        let shared = view(vec![steps(), steps()], vec![], None).shared;
        assert_eq!(
            shared.into_iter().cloned().collect::<Vec<_>>(),
            vec![
                mount("ws-1bcf2", "/workspace/source"),
                mount("ws-20573", "/workspace/cache")
            ]
        );
    }

    /// What the steps share is decided on whole mounts: a field that differs (`readOnly`, `subPath`)
    /// makes two mounts of one volume and path different ones.
    #[rstest::rstest]
    #[case::alike(json!([mount("ws-1bcf2", "/w")]), json!([mount("ws-1bcf2", "/w")]), json!([mount("ws-1bcf2", "/w")]))]
    #[case::read_only_in_one_step(
        json!([mount("ws-1bcf2", "/w")]),
        json!([{"name": "ws-1bcf2", "mountPath": "/w", "readOnly": true}]),
        json!([]))]
    #[case::one_path_other_sub_paths(
        json!([{"name": "ws-1bcf2", "mountPath": "/w", "subPath": "a"}, {"name": "ws-1bcf2", "mountPath": "/w", "subPath": "b"}]),
        json!([{"name": "ws-1bcf2", "mountPath": "/w", "subPath": "c"}, {"name": "ws-1bcf2", "mountPath": "/w", "subPath": "a"}]),
        json!([{"name": "ws-1bcf2", "mountPath": "/w", "subPath": "a"}]))]
    #[case::last_alike_of_a_binding(
        json!([mount("ws-1bcf2", "/a"), mount("ws-1bcf2", "/b"), mount("ws-1bcf2", "/c")]),
        json!([mount("ws-1bcf2", "/b"), mount("ws-1bcf2", "/a")]),
        json!([mount("ws-1bcf2", "/b")]))]
    #[case::two_volumes_in_the_steps_order(
        json!([mount("ws-20573", "/c"), mount("ws-1bcf2", "/w")]),
        json!([mount("ws-1bcf2", "/w"), mount("ws-20573", "/c")]),
        json!([mount("ws-20573", "/c"), mount("ws-1bcf2", "/w")]))]
    fn steps_share_whole_mounts(#[case] one: Value, #[case] two: Value, #[case] shared: Value) {
        let found = view(vec![one, two], vec![], None).shared;
        assert_eq!(
            Value::from(found.into_iter().cloned().collect::<Vec<_>>()),
            shared
        );
    }

    #[test]
    fn one_step_alone_does_not_show_a_workspace_is_shared() {
        let one = view(
            vec![json!([mount("ws-1bcf2", "/workspace/source")])],
            vec![],
            None,
        );
        assert!(one.shared.is_empty());
        let two = view(
            vec![
                json!([mount("ws-1bcf2", "/workspace/source")]),
                json!([mount("ws-1bcf2", "/workspace/source")]),
            ],
            vec![],
            None,
        );
        assert_eq!(two.shared.len(), 1);
        let with_sidecar = view(
            vec![json!([mount("ws-1bcf2", "/workspace/source")])],
            vec![json!([mount("ws-1bcf2", "/workspace/source")])],
            None,
        );
        assert_eq!(with_sidecar.shared.len(), 1);
        let isolated = view(
            vec![json!([mount("ws-1bcf2", "/workspace/source")]), json!([])],
            vec![],
            None,
        );
        assert!(isolated.shared.is_empty());
    }

    /// `TestCreateVolumes` "multiple workspaces binding to the same volume with diff subpaths": the second
    /// workspace is found on the first one's volume, with its own subPath.
    #[test]
    fn the_second_workspace_of_a_claim_is_found_on_its_volume() {
        let context = TaskRunContext {
            workspaces: vec![
                Binding {
                    name: "custom".into(),
                    volume: "ws-20573".into(),
                    sub_path: "a".into(),
                },
                Binding {
                    name: "custom2".into(),
                    volume: "ws-20573".into(),
                    sub_path: "b".into(),
                },
            ],
            sidecar_specs: vec![],
        };
        let pod = view(
            vec![
                json!([{"name": "ws-20573", "mountPath": "/workspace/custom2", "subPath": "b", "readOnly": true}]),
            ],
            vec![],
            Some(context),
        );
        let Ok(Listed::Mount(found)) = pod.listed(&usage("custom2", "")) else {
            panic!("a mount expected")
        };
        assert_eq!(
            found,
            json!({"name": "ws-20573", "mountPath": "/workspace/custom2", "subPath": "b", "readOnly": true})
        );
        assert!(matches!(
            pod.listed(&usage("other", "")),
            Ok(Listed::Unbound(_))
        ));
    }

    #[test]
    fn a_forged_binding_cannot_reach_tekton_s_volumes() {
        let context = TaskRunContext {
            workspaces: vec![Binding {
                name: "w".into(),
                volume: "tekton-internal-bin".into(),
                sub_path: String::new(),
            }],
            sidecar_specs: vec![],
        };
        let pod = view(vec![json!([])], vec![], Some(context));
        assert_eq!(
            pod.listed(&usage("w", "")).err(),
            Some("volume \"tekton-internal-bin\" is internal to Tekton: volumes named tekton-internal-* are only mounted into steps".to_string())
        );
    }

    #[test]
    fn a_forged_context_cannot_make_tekton_s_volumes_shared() {
        let context = TaskRunContext {
            workspaces: vec![Binding {
                name: "bin".into(),
                volume: "tekton-internal-bin".into(),
                sub_path: String::new(),
            }],
            sidecar_specs: vec![],
        };
        let step = json!([
            mount("tekton-internal-bin", "/tekton/bin"),
            mount("ws-1bcf2", "/workspace/source")
        ]);
        let pod = view(vec![step.clone(), step], vec![], Some(context));
        assert!(pod.shared.is_empty(), "{:?}", pod.shared);
        let without = view(
            vec![json!([mount("tekton-internal-bin", "/tekton/bin")]); 2],
            vec![],
            None,
        );
        assert!(without.shared.is_empty());
    }

    /// A binding the policy carried that names a volume it cannot trust as a workspace's: a volume that
    /// is no workspace's at all, and one named at random as releases before v0.59 name them.
    #[rstest::rstest]
    #[case::no_workspace_s("cache", "is not a workspace volume")]
    #[case::named_at_random("ws-45412", "v0.59 or later")]
    fn a_binding_to_an_untrusted_volume_is_refused(#[case] volume: &str, #[case] message: &str) {
        let context = TaskRunContext {
            workspaces: vec![Binding {
                name: "w".into(),
                volume: volume.into(),
                sub_path: String::new(),
            }],
            sidecar_specs: vec![],
        };
        let pod = view(vec![json!([])], vec![], Some(context));
        assert!(
            pod.listed(&usage("w", ""))
                .err()
                .is_some_and(|m| m.contains(message))
        );
    }
}
