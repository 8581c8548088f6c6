//! Container labels skiff itself reads. The topology agent sets them on the
//! containers it creates; `skiff run --label KEY=VALUE` sets them by hand.

/// `service` (the default) or `batch`: batch containers yield the CPU to
/// services (the daemon's freezer pauses them under CPU pressure).
pub const CLASS: &str = "skiff.class";
/// The value of [`CLASS`] that marks a batch container.
pub const CLASS_BATCH: &str = "batch";
/// An integer (default 0): under pressure the lowest priority yields first
/// and thaws last.
pub const PRIORITY: &str = "skiff.priority";
