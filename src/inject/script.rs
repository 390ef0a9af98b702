//! A `script` at Pod level, run as Tekton runs a Task sidecar's script (`convertScripts` in
//! `pkg/pod/script.go`).

use crate::support::error::FieldError;

/// Runs a script that starts with a shebang the way the kernel would run Tekton's script file: written to
/// a file and executed, so that the interpreter on the `#!` line runs it. `$0` is the script, `"$@"` are
/// the sidecar's args.
const SHEBANG_RUNNER: &str = "script=\"${TMPDIR:-/tmp}/pipelinerun-sidecars-script\" && printf '%s' \"$0\" > \"$script\" && chmod +x \"$script\" && exec \"$script\" \"$@\"";

/// The command that runs `script` as Tekton would (`placeScriptInContainer`): without a shebang, `sh` with
/// `set -e` (Tekton's preamble `#!/bin/sh\nset -e\n`); with one, that interpreter. Tekton writes the file
/// with an init container into its internal scripts volume, which a declared sidecar may not mount, so the
/// script travels in the command itself; `$0` is the sidecar's name and the args stay `$1`, `$2`, ....
pub(super) fn command(name: &str, script: &str) -> Result<Vec<String>, FieldError> {
    let cleaned = script.trim_start();
    if cleaned.starts_with("#!win") {
        return Err(FieldError::new(
            "script",
            "Windows scripts (#!win) can only be injected into an inline taskSpec, where Tekton runs them",
        ));
    }
    if cleaned.starts_with("#!") {
        Ok(vec![
            "/bin/sh".into(),
            "-c".into(),
            SHEBANG_RUNNER.into(),
            cleaned.to_string(),
        ])
    } else {
        Ok(vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("set -e\n{script}"),
            name.to_string(),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_run_with_tektons_semantics() {
        assert_eq!(
            command("db", "echo hi").expect("ok"),
            vec!["/bin/sh", "-c", "set -e\necho hi", "db"]
        );
        let shebang = command("db", "\n#!/usr/bin/env python3\nprint(1)").expect("ok");
        assert_eq!(shebang[2], SHEBANG_RUNNER);
        assert_eq!(shebang[3], "#!/usr/bin/env python3\nprint(1)");
        assert_eq!(
            command("db", "#!win pwsh")
                .expect_err("windows")
                .to_string(),
            "script: Windows scripts (#!win) can only be injected into an inline taskSpec, where Tekton runs them"
        );
    }
}
