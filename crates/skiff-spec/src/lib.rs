//! skiff-spec: topology files to a typed, validated `skiff_types::Topology`.
#![forbid(unsafe_code)]
pub mod error;
pub mod node;
pub mod toml_src;
pub mod yaml_src;
