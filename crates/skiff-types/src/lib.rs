//! skiff-types: the vocabulary every skiff room shares.
//!
//! Owns ids, user intent (`*Spec`), lifecycle enums (`*Status`) and the small
//! pure helpers that interpret them (size parsing, restart decisions, time
//! formatting). It does no I/O and knows no other skiff crate: anything that
//! reads a clock, a file or a socket lives in a higher room and passes values in.

pub mod alloc;
pub mod api_msgs;
pub mod container;
pub mod error;
pub mod frame;
pub mod id;
pub mod job;
pub mod labels;
pub mod lb;
pub mod mount;
pub mod mount_parse;
pub mod network;
pub mod node;
pub mod resources;
pub mod restart;
pub mod service;
pub mod signal;
pub mod status;
pub mod time;
pub mod topology;

pub use alloc::{AllocId, AllocStatus, Allocation, Capacity, DesiredState, Node, Revision};
pub use api_msgs::{Control, CreatedResponse, LogOptions, PingResponse, Resize, WaitResponse};
pub use container::{
    ContainerInfo, ContainerSpec, ContainerState, ContainerSummary, ExecSpec, LogStream,
    NetworkMode, PauseReason, SeccompOption, StatsSample,
};
pub use error::{ApiError, ErrorKind};
pub use frame::{encode_into, Frame, FrameDecoder, FrameError, FrameKind};
pub use id::{ContainerId, ContainerName, IdError};
pub use job::{AllocReport, InstanceView, JobRecord, JobView, PendingInstance, ScaleRequest};
pub use lb::{LbDef, LbStatus, UsesSpec};
pub use mount::{MountSpec, MountType, Volume, VolumeCreateRequest, VolumePruneResponse};
pub use network::{Endpoint, NetworkConnect, NetworkCreate, NetworkInfo};
pub use node::{NodeFlagError, NodeOffer, NodeRecord};
pub use resources::{parse_cpus, parse_memory_size, Resources, SizeError};
pub use restart::{RestartPolicy, RestartPolicyError};
pub use service::{
    is_service_name, HealthCheck, HealthLogEntry, HealthProbe, HealthState, HealthStatus, Instance,
    Proto, ServiceDecl, ServiceInfo, ServiceList, ServiceUpdate, DEFAULT_START_INTERVAL_MS,
};
pub use signal::{parse_signal, BadSignal};
pub use status::{ContainerStatus, TransitionError};
pub use topology::{
    BuildSpec, DependsCondition, FileMount, JobClass, LbMode, LbSpec, MountKind, NetworkSpec,
    Placement, PortSpec, ServiceMount, ServiceResources, ServiceSpec, Topology, VolumeSpec,
};
