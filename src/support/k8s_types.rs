//! The shapes of the Kubernetes `core/v1` types a container is made of, as [`shape`](super::shape) reads
//! them: each field's name and kind, as the Kubernetes API (1.36) defines them.
//!
//! Field lists are in k8s-openapi's order (a message lists them), and every field may be left out or
//! `null`: Kubernetes reads a missing required field as its empty value, as k8s-openapi does. The test in
//! `tekton/sidecar_oracle.rs` holds these tables to k8s-openapi's own types.

use super::shape::{Shape, Struct, field};

const STRING: Shape = Shape::String;
const STRINGS: Shape = Shape::List(&Shape::String);
const BOOL: Shape = Shape::Bool;
const INT32: Shape = Shape::Int32;
const INT64: Shape = Shape::Int64;
const QUANTITIES: Shape = Shape::Map(&Shape::Quantity);

const fn one(of: &'static Struct) -> Shape {
    Shape::Struct(of)
}

/// `ContainerPort`.
pub(crate) const CONTAINER_PORT: Struct = Struct {
    name: "ContainerPort",
    fields: &[
        field("containerPort", INT32),
        field("hostIP", STRING),
        field("hostPort", INT32),
        field("name", STRING),
        field("protocol", STRING),
    ],
};

const CONFIG_MAP_ENV_SOURCE: Struct = Struct {
    name: "ConfigMapEnvSource",
    fields: &[field("name", STRING), field("optional", BOOL)],
};

const SECRET_ENV_SOURCE: Struct = Struct {
    name: "SecretEnvSource",
    fields: &[field("name", STRING), field("optional", BOOL)],
};

/// `EnvFromSource`.
pub(crate) const ENV_FROM_SOURCE: Struct = Struct {
    name: "EnvFromSource",
    fields: &[
        field("configMapRef", one(&CONFIG_MAP_ENV_SOURCE)),
        field("prefix", STRING),
        field("secretRef", one(&SECRET_ENV_SOURCE)),
    ],
};

const CONFIG_MAP_KEY_SELECTOR: Struct = Struct {
    name: "ConfigMapKeySelector",
    fields: &[
        field("key", STRING),
        field("name", STRING),
        field("optional", BOOL),
    ],
};

const OBJECT_FIELD_SELECTOR: Struct = Struct {
    name: "ObjectFieldSelector",
    fields: &[field("apiVersion", STRING), field("fieldPath", STRING)],
};

const FILE_KEY_SELECTOR: Struct = Struct {
    name: "FileKeySelector",
    fields: &[
        field("key", STRING),
        field("optional", BOOL),
        field("path", STRING),
        field("volumeName", STRING),
    ],
};

const RESOURCE_FIELD_SELECTOR: Struct = Struct {
    name: "ResourceFieldSelector",
    fields: &[
        field("containerName", STRING),
        field("divisor", Shape::Quantity),
        field("resource", STRING),
    ],
};

const SECRET_KEY_SELECTOR: Struct = Struct {
    name: "SecretKeySelector",
    fields: &[
        field("key", STRING),
        field("name", STRING),
        field("optional", BOOL),
    ],
};

const ENV_VAR_SOURCE: Struct = Struct {
    name: "EnvVarSource",
    fields: &[
        field("configMapKeyRef", one(&CONFIG_MAP_KEY_SELECTOR)),
        field("fieldRef", one(&OBJECT_FIELD_SELECTOR)),
        field("fileKeyRef", one(&FILE_KEY_SELECTOR)),
        field("resourceFieldRef", one(&RESOURCE_FIELD_SELECTOR)),
        field("secretKeyRef", one(&SECRET_KEY_SELECTOR)),
    ],
};

/// `EnvVar`.
pub(crate) const ENV_VAR: Struct = Struct {
    name: "EnvVar",
    fields: &[
        field("name", STRING),
        field("value", STRING),
        field("valueFrom", one(&ENV_VAR_SOURCE)),
    ],
};

const RESOURCE_CLAIM: Struct = Struct {
    name: "ResourceClaim",
    fields: &[field("name", STRING), field("request", STRING)],
};

/// `ResourceRequirements`.
pub(crate) const RESOURCE_REQUIREMENTS: Struct = Struct {
    name: "ResourceRequirements",
    fields: &[
        field("claims", Shape::List(&Shape::Struct(&RESOURCE_CLAIM))),
        field("limits", QUANTITIES),
        field("requests", QUANTITIES),
    ],
};

/// `VolumeMount`.
pub(crate) const VOLUME_MOUNT: Struct = Struct {
    name: "VolumeMount",
    fields: &[
        field("mountPath", STRING),
        field("mountPropagation", STRING),
        field("name", STRING),
        field("readOnly", BOOL),
        field("recursiveReadOnly", STRING),
        field("subPath", STRING),
        field("subPathExpr", STRING),
    ],
};

/// `VolumeDevice`.
pub(crate) const VOLUME_DEVICE: Struct = Struct {
    name: "VolumeDevice",
    fields: &[field("devicePath", STRING), field("name", STRING)],
};

const EXEC_ACTION: Struct = Struct {
    name: "ExecAction",
    fields: &[field("command", STRINGS)],
};

const GRPC_ACTION: Struct = Struct {
    name: "GRPCAction",
    fields: &[field("port", INT32), field("service", STRING)],
};

const HTTP_HEADER: Struct = Struct {
    name: "HTTPHeader",
    fields: &[field("name", STRING), field("value", STRING)],
};

const HTTP_GET_ACTION: Struct = Struct {
    name: "HTTPGetAction",
    fields: &[
        field("host", STRING),
        field("httpHeaders", Shape::List(&Shape::Struct(&HTTP_HEADER))),
        field("path", STRING),
        field("port", Shape::IntOrString),
        field("scheme", STRING),
    ],
};

const TCP_SOCKET_ACTION: Struct = Struct {
    name: "TCPSocketAction",
    fields: &[field("host", STRING), field("port", Shape::IntOrString)],
};

/// `Probe`.
pub(crate) const PROBE: Struct = Struct {
    name: "Probe",
    fields: &[
        field("exec", one(&EXEC_ACTION)),
        field("failureThreshold", INT32),
        field("grpc", one(&GRPC_ACTION)),
        field("httpGet", one(&HTTP_GET_ACTION)),
        field("initialDelaySeconds", INT32),
        field("periodSeconds", INT32),
        field("successThreshold", INT32),
        field("tcpSocket", one(&TCP_SOCKET_ACTION)),
        field("terminationGracePeriodSeconds", INT64),
        field("timeoutSeconds", INT32),
    ],
};

const SLEEP_ACTION: Struct = Struct {
    name: "SleepAction",
    fields: &[field("seconds", INT64)],
};

const LIFECYCLE_HANDLER: Struct = Struct {
    name: "LifecycleHandler",
    fields: &[
        field("exec", one(&EXEC_ACTION)),
        field("httpGet", one(&HTTP_GET_ACTION)),
        field("sleep", one(&SLEEP_ACTION)),
        field("tcpSocket", one(&TCP_SOCKET_ACTION)),
    ],
};

/// `Lifecycle`.
pub(crate) const LIFECYCLE: Struct = Struct {
    name: "Lifecycle",
    fields: &[
        field("postStart", one(&LIFECYCLE_HANDLER)),
        field("preStop", one(&LIFECYCLE_HANDLER)),
        field("stopSignal", STRING),
    ],
};

const APP_ARMOR_PROFILE: Struct = Struct {
    name: "AppArmorProfile",
    fields: &[field("localhostProfile", STRING), field("type", STRING)],
};

const CAPABILITIES: Struct = Struct {
    name: "Capabilities",
    fields: &[field("add", STRINGS), field("drop", STRINGS)],
};

const SE_LINUX_OPTIONS: Struct = Struct {
    name: "SELinuxOptions",
    fields: &[
        field("level", STRING),
        field("role", STRING),
        field("type", STRING),
        field("user", STRING),
    ],
};

const SECCOMP_PROFILE: Struct = Struct {
    name: "SeccompProfile",
    fields: &[field("localhostProfile", STRING), field("type", STRING)],
};

const WINDOWS_SECURITY_CONTEXT_OPTIONS: Struct = Struct {
    name: "WindowsSecurityContextOptions",
    fields: &[
        field("gmsaCredentialSpec", STRING),
        field("gmsaCredentialSpecName", STRING),
        field("hostProcess", BOOL),
        field("runAsUserName", STRING),
    ],
};

/// `SecurityContext`, a container's.
pub(crate) const SECURITY_CONTEXT: Struct = Struct {
    name: "SecurityContext",
    fields: &[
        field("allowPrivilegeEscalation", BOOL),
        field("appArmorProfile", one(&APP_ARMOR_PROFILE)),
        field("capabilities", one(&CAPABILITIES)),
        field("privileged", BOOL),
        field("procMount", STRING),
        field("readOnlyRootFilesystem", BOOL),
        field("runAsGroup", INT64),
        field("runAsNonRoot", BOOL),
        field("runAsUser", INT64),
        field("seLinuxOptions", one(&SE_LINUX_OPTIONS)),
        field("seccompProfile", one(&SECCOMP_PROFILE)),
        field("windowsOptions", one(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
    ],
};
