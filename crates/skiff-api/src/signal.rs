//! Signal names as users write them; the parser lives in skiff-types, shared
//! with the runtime and the topology parser.

pub use skiff_types::signal::{parse_signal, BadSignal, SIGNALS};
