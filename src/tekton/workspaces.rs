//! How Tekton names the volume of a workspace binding (`workspace.CreateVolumes` in
//! `pkg/workspace/apply.go`), so that a sidecar mounts the very volume the steps have.
//!
//! The names are hashes of the binding's name since Tekton v0.59 (tektoncd/pipeline#7887); before that
//! they were random, and only the steps' own mounts could tell which volume is which.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Where Tekton mounts a workspace that declares no `mountPath` (`pipeline.WorkspaceDir`).
pub(crate) const WORKSPACE_DIR: &str = "/workspace";

/// Where Tekton mounts a Task's workspace, given its declaration in `taskSpec.workspaces`
/// (`WorkspaceDeclaration.GetMountPath` in `pkg/apis/pipeline/v1/workspace_types.go`): its `mountPath`,
/// or `/workspace/<name>`.
pub(crate) fn declared_mount_path(declaration: &Value, name: &str) -> String {
    declaration
        .get("mountPath")
        .and_then(Value::as_str)
        .filter(|path| !path.is_empty())
        .map_or_else(|| format!("{WORKSPACE_DIR}/{name}"), str::to_string)
}

/// The volume Tekton gives a workspace binding, and the binding it was made for: bindings of the same
/// PersistentVolumeClaim share the first one's volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkspaceVolume {
    /// `ws-<hash>`.
    pub(crate) name: String,
}

/// The volume Tekton creates for workspace `name`: `names.GenerateHashedName("ws", name, 5)`, the FNV-1a
/// 32-bit hash in hex, cut or padded to five digits.
pub fn workspace_volume(name: &str) -> String {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let mut digits = format!("{hash:x}");
    digits.truncate(5);
    format!("ws-{digits:0<5}")
}

/// The hashes tried for a free volume name, on average per binding.
const MAX_PROBES: usize = 4;

/// `CreateVolumes`: each binding's volume, by binding name. A name already taken is hashed again with a
/// `$` appended; a PersistentVolumeClaim bound twice is one volume, the first binding's.
///
/// Tekton's search for a free name never ends once a cycle of the hash is all taken (about 2,330 names
/// for `a`): a TaskRun that binds one name that often, which Tekton's validation refuses after this
/// admission, or crafted names that hash onto one cycle. A name bound before is skipped, and the search
/// stops after [`MAX_PROBES`] per binding: the bindings left have no volume, so their variables are
/// refused as unresolved.
pub(crate) fn create_volumes(bindings: &[Value]) -> BTreeMap<String, WorkspaceVolume> {
    let mut volumes = BTreeMap::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut claims: BTreeMap<&str, WorkspaceVolume> = BTreeMap::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut probes = bindings.len().saturating_mul(MAX_PROBES);
    for binding in bindings {
        let Some(binding_name) = binding.get("name").and_then(Value::as_str) else {
            continue;
        };
        if !seen.insert(binding_name) {
            continue;
        }
        let mut name = workspace_volume(binding_name);
        while used.contains(&name) {
            let Some(left) = probes.checked_sub(1) else {
                return volumes;
            };
            probes = left;
            name = workspace_volume(&format!("{name}$"));
        }
        used.insert(name.clone());
        let volume = WorkspaceVolume { name };
        let claim = binding
            .pointer("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str);
        let sources = [
            "persistentVolumeClaim",
            "emptyDir",
            "configMap",
            "secret",
            "projected",
            "csi",
            "volumeClaimTemplate",
        ];
        if !sources.iter().any(|s| binding.get(s).is_some()) {
            continue;
        }
        let volume = match claim {
            Some(claim) => claims.entry(claim).or_insert(volume).clone(),
            None => volume,
        };
        volumes.insert(binding_name.to_string(), volume);
    }
    volumes
}

/// The characters of a name Tekton made at random before v0.59 (`names.SimpleNameGenerator`, which takes
/// `utilrand.String` of k8s.io/apimachinery: no vowels, no 0, 1 or 3).
const RANDOM_NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Whether `name` has the shape of a workspace volume: `ws-<5 hex digits>` (the hash since v0.59) or
/// `ws-<5 random characters>` (earlier releases).
pub(crate) fn is_workspace_volume(name: &str) -> bool {
    name.strip_prefix("ws-").is_some_and(|suffix| {
        suffix.len() == 5
            && suffix
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || RANDOM_NAME_CHARS.contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[rstest::rstest]
    #[case::from_tekton_apply_test("custom", "ws-20573")]
    #[case::from_tekton_apply_test("even-more-custom", "ws-338c2")]
    #[case::from_tekton_apply_test("workspace2", "ws-c88ff")]
    #[case("source", "ws-1bcf2")]
    #[case("output", "ws-79a94")]
    #[case("a", "ws-e40c2")]
    fn workspace_volume_names_follow_tekton(#[case] workspace: &str, #[case] volume: &str) {
        assert_eq!(workspace_volume(workspace), volume);
        assert!(is_workspace_volume(volume));
    }

    #[rstest::rstest]
    #[case::hashed("ws-1bcf2", true)]
    #[case::named_at_random_before_v0_59("ws-9l9zj", true)]
    #[case::too_short("ws-9l9z", false)]
    #[case::a_letter_neither_makes("ws-9l9zo", false)]
    #[case::upper_case("ws-9L9ZJ", false)]
    #[case::tekton_s_own("tekton-internal-bin", false)]
    fn what_looks_like_a_workspace_volume(#[case] name: &str, #[case] expected: bool) {
        assert_eq!(is_workspace_volume(name), expected);
    }

    /// `TestCreateVolumes` "multiple workspaces binding to the same volume with diff subpaths doesnt
    /// duplicate" and the collision vectors of the same test.
    #[test]
    fn bindings_of_one_claim_share_its_volume_and_collisions_hash_again() {
        let volumes = create_volumes(&[
            json!({"name": "custom", "persistentVolumeClaim": {"claimName": "mypvc"}, "subPath": "/foo/bar/baz"}),
            json!({"name": "custom2", "persistentVolumeClaim": {"claimName": "mypvc"}, "subPath": "/very/professional/work/space"}),
            json!({"name": "scratch", "emptyDir": {}}),
        ]);
        assert_eq!(volumes["custom"].name, "ws-20573");
        assert_eq!(volumes["custom2"].name, "ws-20573");
        assert_eq!(volumes["scratch"].name, workspace_volume("scratch"));
        let bindings = [
            "test-01097628",
            "test-01617609",
            "test-01675975",
            "test-01809743",
        ];
        let colliding: Vec<Value> = bindings
            .iter()
            .map(|name| json!({"name": name, "emptyDir": {}}))
            .collect();
        let volumes = create_volumes(&colliding);
        let names: Vec<&str> = bindings
            .iter()
            .map(|name| volumes[*name].name.as_str())
            .collect();
        assert_eq!(names, vec!["ws-f32ff", "ws-a0814", "ws-b2d09", "ws-60320"]);
    }

    /// Tekton's own loop never ends here: the 2,331st binding of `a` finds every name of the hash's cycle
    /// taken. Tekton's validation refuses a name bound twice; the policy answers at once.
    #[test]
    fn a_name_bound_thousands_of_times_has_one_volume() {
        let same: Vec<Value> = (0..5000)
            .map(|_| json!({"name": "a", "emptyDir": {}}))
            .collect();
        let volumes = create_volumes(&same);
        assert_eq!(volumes.len(), 1);
        assert_eq!(volumes["a"].name, workspace_volume("a"));
    }
}
