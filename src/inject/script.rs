//! A `script` at Pod level, run as Tekton runs a Task sidecar's script (`placeScriptInContainer` in
//! `pkg/pod/script.go`).
//!
//! Tekton writes the script to a file in its internal scripts volume (through the `place-scripts` init
//! container) and makes the file the container's command, so the kernel runs it: a script without `#!`
//! gets the preamble `#!/bin/sh\nset -e\n`, and `$0` is the file's path. A declared sidecar may not mount
//! that volume, and the Pod's init containers are already built, so here the script travels in the
//! container's command, in three ways, the first that fits:
//!
//! * no `#!`: `/bin/sh -c "set -e\n<script>" <path>`, as the preamble would run it;
//! * `#!` naming a shell (`sh`, `bash`, `dash`, `ash`, `zsh`, `ksh`, `mksh`, directly or through
//!   `/usr/bin/env`): that shell with `-c`, its `#!` argument kept, `$0` the path; or Python: `-c`, where
//!   `sys.argv[0]` is `-c` instead of the path;
//! * any other interpreter: `/bin/sh` writes the script to `$TMPDIR` (default `/tmp`) with `printf`,
//!   `chmod +x`es it and executes it, so the kernel runs the `#!` line as Tekton's file would be run.
//!
//! Kubernetes expands `$(VAR)` and turns `$$` into `$` in `command` and `args` (Tekton base64-encodes
//! scripts for the same reason), so every `$` the policy puts in the command is written `$$`: the shell
//! receives exactly the text the author wrote. The sidecar's own `args` are left as Tekton leaves them.

use crate::support::error::FieldError;

/// Tekton's preamble for a script without a shebang (`defaultScriptPreamble`), less its `#!/bin/sh` line,
/// which `/bin/sh -c` makes a comment anyway.
const PREAMBLE: &str = "set -e\n";

/// Runs a script whose interpreter the policy cannot call directly the way the kernel would: written to a
/// file and executed, so that the interpreter on the `#!` line runs it. `$0` is the script, `"$@"` the
/// sidecar's args.
const FILE_RUNNER: &str = "script=\"${TMPDIR:-/tmp}/pipelinerun-sidecars-script\" && printf '%s' \"$0\" > \"$script\" && chmod +x \"$script\" && exec \"$script\" \"$@\"";

/// Shells that run a script given with `-c`, as they would run it from a file.
const SHELLS: [&str; 7] = ["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"];

/// The warning for a script at Pod level: it does not run from a file, as a Task's does (see above).
pub(super) const FROM_THE_COMMAND: &str = "script runs from its command, not from a file";

/// The `command` that runs `script` as Tekton would run it from the file `path`.
pub(super) fn command(script: &str, path: &str) -> Result<Vec<String>, FieldError> {
    let cleaned = script.trim();
    if cleaned.starts_with("#!win") {
        return Err(FieldError::new(
            "script",
            "Windows scripts (#!win) can only be injected into an inline taskSpec, where Tekton runs them",
        ));
    }
    let command = if !cleaned.starts_with("#!") {
        vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            format!("{PREAMBLE}{script}"),
            path.to_string(),
        ]
    } else {
        let first_line = script.lines().next().unwrap_or_default();
        let shebang = first_line.strip_prefix("#!").unwrap_or_default().trim();
        // The kernel splits `#!` at the first blank: the interpreter, then one argument.
        let (interpreter, argument) = match shebang.split_once([' ', '\t']) {
            Some((interpreter, argument)) => (interpreter, Some(argument.trim())),
            None => (shebang, None),
        };
        direct(interpreter, argument, script, path).unwrap_or_else(|| {
            vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                FILE_RUNNER.to_string(),
                script.to_string(),
            ]
        })
    };
    Ok(command.iter().map(|part| part.replace('$', "$$")).collect())
}

/// A shell or Python called with the script as `-c`, if `interpreter` is one.
fn direct(
    interpreter: &str,
    argument: Option<&str>,
    script: &str,
    path: &str,
) -> Option<Vec<String>> {
    let base = |program: &str| program.rsplit('/').next().unwrap_or(program).to_string();
    // `#!/usr/bin/env bash`: env finds the program, which gets no argument of its own.
    let (program, prefix, own_argument) = if base(interpreter) == "env" {
        let program = argument?;
        if program.contains([' ', '\t']) || program.starts_with('-') {
            return None;
        }
        (
            base(program),
            vec![interpreter.to_string(), program.to_string()],
            None,
        )
    } else {
        (base(interpreter), vec![interpreter.to_string()], argument)
    };
    let is_python = program == "python"
        || program.strip_prefix("python3").is_some_and(|version| {
            version.is_empty()
                || version.strip_prefix('.').is_some_and(|minor| {
                    !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())
                })
        });
    if !SHELLS.contains(&program.as_str()) && !is_python {
        return None;
    }
    let mut command = prefix;
    command.extend(own_argument.map(str::to_string));
    command.push("-c".to_string());
    command.push(script.to_string());
    if !is_python {
        command.push(path.to_string());
    }
    Some(command)
}

/// A path like the one Tekton gives the script file of the `index`-th sidecar
/// (`/tekton/scripts/sidecar-script-<i>-<5 random characters>`); the characters come from the sidecar's
/// name instead of chance, so that evaluating the Pod again gives the same command.
pub(super) fn path(index: usize, name: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hash = name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let mut suffix = String::with_capacity(5);
    for _ in 0..5 {
        let digit = (hash % 27) as usize;
        suffix.push(char::from(ALPHABET.get(digit).copied().unwrap_or(b'b')));
        hash /= 27;
    }
    format!("/tekton/scripts/sidecar-script-{index}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const PATH: &str = "/tekton/scripts/sidecar-script-0-abcde";

    #[rstest]
    #[case::no_shebang("echo hi", &["/bin/sh", "-c", "set -e\necho hi", PATH])]
    #[case::kubelet_sees_no_variable("echo $(date) $$ ${HOME}", &["/bin/sh", "-c", "set -e\necho $$(date) $$$$ $${HOME}", PATH])]
    #[case::sh("#!/bin/sh\necho hi", &["/bin/sh", "-c", "#!/bin/sh\necho hi", PATH])]
    #[case::bash_with_argument("#!/bin/bash -eu\necho hi", &["/bin/bash", "-eu", "-c", "#!/bin/bash -eu\necho hi", PATH])]
    #[case::env_bash("#!/usr/bin/env bash\necho $1", &["/usr/bin/env", "bash", "-c", "#!/usr/bin/env bash\necho $$1", PATH])]
    #[case::python("#!/usr/bin/env python3\nprint(1)", &["/usr/bin/env", "python3", "-c", "#!/usr/bin/env python3\nprint(1)"])]
    #[case::python_path("#!/usr/local/bin/python3.12 -u\nprint(1)", &["/usr/local/bin/python3.12", "-u", "-c", "#!/usr/local/bin/python3.12 -u\nprint(1)"])]
    #[case::other_interpreter("#!/usr/bin/env node\nconsole.log(1)", &["/bin/sh", "-c", "script=\"$${TMPDIR:-/tmp}/pipelinerun-sidecars-script\" && printf '%s' \"$$0\" > \"$$script\" && chmod +x \"$$script\" && exec \"$$script\" \"$$@\"", "#!/usr/bin/env node\nconsole.log(1)"])]
    fn runs_the_script_as_tekton_would(#[case] script: &str, #[case] expected: &[&str]) {
        assert_eq!(command(script, PATH).expect("runs"), expected);
    }

    /// Kubernetes' expansion of a command string (`expand.Expand`): `$$` is `$`, `$(NAME)` a variable.
    fn as_the_kubelet_reads(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek() == Some(&'$') {
                chars.next();
                out.push('$');
            } else if c == '$' && chars.peek() == Some(&'(') {
                out.push_str("<expanded>");
                for d in chars.by_ref() {
                    if d == ')' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn the_shell_receives_exactly_the_text_written() {
        let script = "#!/bin/sh\nx=$(date) && echo \"$$ $x $(( 1 + 1 ))\" '$$'";
        let built = command(script, PATH).expect("runs");
        assert_eq!(as_the_kubelet_reads(&built[2]), script);
        assert_eq!(as_the_kubelet_reads(&built[3]), PATH);
    }

    #[test]
    fn windows_scripts_are_for_inline_tasks() {
        assert_eq!(
            command("#!win pwsh", PATH)
                .expect_err("windows")
                .to_string(),
            "script: Windows scripts (#!win) can only be injected into an inline taskSpec, where Tekton runs them"
        );
    }

    #[test]
    fn the_path_is_stable_and_shaped_like_tekton_s() {
        assert_eq!(path(1, "db"), path(1, "db"));
        assert!(path(1, "db").starts_with("/tekton/scripts/sidecar-script-1-"));
        assert_eq!(
            path(1, "db").len(),
            "/tekton/scripts/sidecar-script-1-".len() + 5
        );
        assert_ne!(path(1, "db"), path(1, "cache"));
    }
}
