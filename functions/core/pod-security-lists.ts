/** Pod Security Standards lists (see shared/reference/security-facts.md). */

/** Capabilities Baseline allows a container to add. */
export const BASELINE_CAPABILITIES: ReadonlySet<string> = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);

/** Capabilities that amount to control of the node or of every process on it. */
export const NODE_LEVEL_CAPABILITIES: ReadonlySet<string> = new Set([
  "ALL",
  "SYS_ADMIN",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_BOOT",
  "BPF",
  "DAC_READ_SEARCH",
  "PERFMON",
]);

/** SELinux types Baseline allows; any SELinux user or role is forbidden. */
export const BASELINE_SELINUX_TYPES: ReadonlySet<string> = new Set([
  "",
  "container_t",
  "container_init_t",
  "container_kvm_t",
  "container_engine_t",
]);

/** Capabilities that let a container read another process's memory and files through /proc. */
export const PTRACE_CAPABILITIES: ReadonlySet<string> = new Set(["SYS_PTRACE", "ALL"]);
