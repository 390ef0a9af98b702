//! What reading the declarations of one object may cost. Reading YAML is the dearest thing the policy
//! does: about a microsecond for each value in the module, and some tens of microseconds for each
//! kilobyte of text even without values. So every annotation value read for one admission request draws
//! on one budget, of text and of values, which keeps the worst object an author can write (annotations of
//! 256 KiB, a PipelineRun of 1.5 MiB) to a few milliseconds and leaves a declaration of
//! `maxSidecarsPerTask` sidecars far more room than it needs.

use std::cell::Cell;

/// The most values the declarations on one object may hold, aliases expanded. A full sidecar (env,
/// probes, resources, mounts) is about 150.
pub const MAX_NODES: usize = 10_000;
/// The most declaration text read on one object, in bytes. A sidecar with a long script is a few KiB.
pub const MAX_BYTES: usize = 64 * 1024;
/// The most declarations (annotation values of different text) read on one object. Each costs a few
/// microseconds however short; a PipelineRun's taskRunSpecs could otherwise hold thousands.
pub const MAX_DOCUMENTS: usize = 128;

/// What is left for reading the declarations of one object: every annotation value read for one
/// admission request draws on the same budget.
#[derive(Debug)]
pub struct Budget {
    nodes: Cell<usize>,
    bytes: Cell<usize>,
    documents: Cell<usize>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            nodes: Cell::new(MAX_NODES),
            bytes: Cell::new(MAX_BYTES),
            documents: Cell::new(MAX_DOCUMENTS),
        }
    }
}

impl Budget {
    /// Takes `text` out of the budget, or says why it cannot be read.
    pub(super) fn take_text(&self, text: &str) -> Result<(), String> {
        let documents = self.documents.get();
        if documents == 0 {
            return Err(format!(
                "is one declaration more than the {MAX_DOCUMENTS} different ones the policy reads on one object"
            ));
        }
        let left = self.bytes.get();
        if text.len() <= left {
            self.bytes.set(left - text.len());
            self.documents.set(documents - 1);
            return Ok(());
        }
        let kib = |bytes: usize| bytes.div_ceil(1024);
        let read = MAX_BYTES - left;
        Err(if read == 0 {
            format!(
                "is {} KiB long; the policy reads at most {} KiB of declarations on one object",
                kib(text.len()),
                kib(MAX_BYTES)
            )
        } else {
            format!(
                "is {} KiB long, {} KiB with the declarations read before it on this object; the policy reads at most {} KiB of declarations on one object",
                kib(text.len()),
                kib(read + text.len()),
                kib(MAX_BYTES)
            )
        })
    }

    /// How many values are left to read.
    #[cfg(test)]
    pub(super) fn nodes_left(&self) -> usize {
        self.nodes.get()
    }

    /// Takes `nodes` if that many are left, and says whether it did.
    pub(super) fn take_nodes_if_left(&self, nodes: usize) -> bool {
        self.take_nodes(nodes).is_ok()
    }

    pub(super) fn take_nodes(&self, nodes: usize) -> Result<(), String> {
        match self.nodes.get().checked_sub(nodes) {
            Some(left) => {
                self.nodes.set(left);
                Ok(())
            }
            None => Err(format!(
                "the declarations on this object hold more than the {MAX_NODES} values the policy reads on one object"
            )),
        }
    }
}
