//! Validation without mutation: the PipelineRun rows of the design's table. Every declaration a
//! PipelineRun carries is checked when it is admitted, so that a mistake is reported to the person who
//! wrote it rather than minutes later, when a TaskRun's Pod is refused.
//!
//! It reads declarations and settings, and changes nothing.

mod keys;
mod once;
pub(crate) mod pipelinerun;
mod warnings;
