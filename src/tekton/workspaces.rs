//! How Tekton names the volume of a workspace binding (`workspace.CreateVolumes` in
//! `pkg/workspace/apply.go`), so that a Pod-level sidecar mounts the very volume the steps have.

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

/// Whether `name` has the shape of a workspace volume, `ws-<5 hex digits>`.
pub(crate) fn is_workspace_volume(name: &str) -> bool {
    name.strip_prefix("ws-")
        .is_some_and(|hash| hash.len() == 5 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case::from_tekton_apply_test("custom", "ws-20573")]
    #[case("source", "ws-1bcf2")]
    #[case("output", "ws-79a94")]
    #[case("a", "ws-e40c2")]
    fn workspace_volume_names_follow_tekton(#[case] workspace: &str, #[case] volume: &str) {
        assert_eq!(workspace_volume(workspace), volume);
        assert!(is_workspace_volume(volume));
    }
}
