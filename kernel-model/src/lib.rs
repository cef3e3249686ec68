//! kernel-model (in progress)
