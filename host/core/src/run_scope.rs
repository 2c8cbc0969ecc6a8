//! Which run a host-side handler works for: the runtime's [`RunScope`], shared by
//! the instance and every port of the run.

pub(crate) use hermes_runtime::RunScope;
