# shellcheck shell=bash disable=SC2034
# The pinned versions of the lab's Kubernetes supply. Sourced by supply/build.sh; part of the cache key.
# The Go modules under supply/modules/ pin the same versions in their go.mod files; build.sh checks
# that they agree.

# Kubernetes: 1.35 is the newest minor that still supports containerd 1.x (Debian bookworm ships 1.6),
# and v1.35.8 is its newest patch that the Go module proxy serves. The staging modules are v0.35.8.
readonly K8S_VERSION=v1.35.8
# The tag's commit time, as the module proxy reports it: the binaries' buildDate and every mtime in
# the images and packages, so rebuilds are byte-identical.
readonly K8S_BUILD_DATE=2026-08-20T15:16:14Z
# What kubeadm v1.35.8 deploys (cmd/kubeadm/app/constants: DefaultEtcdVersion, CoreDNSVersion, PauseVersion).
readonly ETCD_VERSION=v3.6.6
readonly ETCD_IMAGE_TAG=3.6.6-0
readonly COREDNS_VERSION=v1.13.1
# The commit of the CoreDNS tag, as the module proxy reports it (stamped into `coredns -version`).
readonly COREDNS_COMMIT=1db4568d
readonly PAUSE_VERSION=3.10.1
# What Kubernetes v1.35.8 pins in build/dependencies.yaml: crictl 1.34.0 and the CNI plugins 1.8.0.
readonly CRICTL_VERSION=v1.34.0
readonly CNI_VERSION=v1.8.0
# The lab's CNI: flanneld with the host-gw backend, and the flannel CNI plugin (see modules/flannel-cni).
readonly FLANNEL_VERSION=v0.28.10
readonly FLANNEL_CNI_VERSION=v0.9.1
# The drill's workload image: Debian's busybox-static, tagged with its upstream version.
readonly BUSYBOX_TAG=1.35.0
# The Debian release the lab's nodes run, and the packages their bootstrap installs from the lab's
# second repository (with every dependency a minbase image lacks).
readonly DEBIAN_SUITE=bookworm
readonly NODE_DEBS=(containerd runc conntrack socat ebtables ethtool iptables iproute2 kmod curl ca-certificates gnupg)
# Debian revision of the lab's own packages, like upstream's package revisions (1.35.8-1.1).
readonly PKG_REVISION=1.1
