#!/usr/bin/env bash
# `make k8s-supply`: builds, from the Go module proxy and Debian's packages only, everything a lab
# node needs to become a real kubeadm node, into one cache directory outside the repository:
#   bin/       kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy,
#              etcd etcdctl etcdutl, crictl, coredns, pause, flanneld install-conf, cni/ (the CNI plugins
#              and the flannel plugin), supplytool (image builder, registry push, file server)
#   oci/       an OCI image layout with every image, named as kubeadm names them under the lab's
#              image repository (k8s/kube-apiserver:v1.35.8, ...), the flannel images and busybox
#   registry/  the storage of a docker-registry the images were pushed into (served by serve.sh)
#   www/       the package server's root: core:/stable:/v1.35/deb/ (kubelet, kubeadm, kubectl,
#              cri-tools, kubernetes-cni, signed like the upstream repository), debian/ (the Debian
#              packages a minbase node lacks: containerd, runc, iptables, ...), cni/ (flannel manifest template)
#   supply.json  versions, image names and repository paths, for the lab and the tests
#   build-seconds  how long the cold build took
# The directory is keyed by the versions and a digest of supply/'s sources; a second run finds it and
# builds nothing. Prints the directory on stdout; progress goes to stderr.
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly SUPPLY="$ROOT/supply"
readonly CACHE_BASE="${ETCD_DR_CACHE:-$HOME/.cache/etcd-dr}"
readonly CACHE_ROOT="$CACHE_BASE/k8s"
# The lab's signing key lives beside the builds, not in one: it is made once and kept.
readonly GPG_HOME="$CACHE_BASE/k8s-signing-key"
readonly REGISTRY_PATH=k8s
readonly APT_PACKAGES=(gcc libc6-dev dpkg-dev apt-utils docker-registry gnupg curl jq)
# Files that only serve or document the supply: changing them does not rebuild it.
readonly NOT_BUILD_INPUTS=(./README.md ./serve.sh)

# shellcheck source=versions.sh disable=SC1091
source "$SUPPLY/versions.sh"

STARTED=$SECONDS
STEP=0
readonly STEPS=10
# die and the ERR trap leave a mark, so a failure in a subshell is reported once, not once per level.
ERROR_MARK="$(mktemp -u "${TMPDIR:-/tmp}/k8s-supply-error.XXXXXX")"
BUILD_TMP=
log() { printf 'k8s-supply: %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    : >"$ERROR_MARK"
    exit 1
}
on_error() {
    local status=$?
    if [[ ! -e "$ERROR_MARK" ]]; then
        log "ERROR: failed at line $1: $2 (log: $BUILD_LOG)"
        : >"$ERROR_MARK"
    fi
    exit "$status"
}
PREFETCH_PID=
cleanup() {
    rm -f "$ERROR_MARK"
    if [[ -n "$PREFETCH_PID" ]]; then kill "$PREFETCH_PID" 2>/dev/null || true; fi
    if [[ -n "$BUILD_TMP" ]]; then rm -rf "$BUILD_TMP"; fi
}
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR
trap cleanup EXIT
step() {
    STEP=$((STEP + 1))
    log "[$STEP/$STEPS] $* ($((SECONDS - STARTED))s)"
}

BUILD_LOG="$CACHE_ROOT/build.log"

# Runs a command with its output in the build log; on failure shows the log's tail.
logged() {
    if ! "$@" >>"$BUILD_LOG" 2>&1; then
        tail -n 40 "$BUILD_LOG" >&2
        die "'${*:1:4} ...' failed; the whole log is $BUILD_LOG"
    fi
}

sources_digest() {
    local exclude=() f
    for f in "${NOT_BUILD_INPUTS[@]}"; do exclude+=(! -path "$f"); done
    (cd "$SUPPLY" && find . -type f "${exclude[@]}" -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12
}

cache_dir() {
    printf '%s/%s_etcd-%s_coredns-%s_flannel-%s_src-%s\n' "$CACHE_ROOT" "$K8S_VERSION" "${ETCD_VERSION#v}" \
        "${COREDNS_VERSION#v}" "${FLANNEL_VERSION#v}" "$(sources_digest)"
}

find_go() {
    if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
        PATH="/usr/local/go/bin:$PATH"
    fi
    command -v go >/dev/null 2>&1 || die "Go is not installed; the supply is built from Go modules (install Go 1.26+)"
}

# Every module pins what versions.sh says; a mismatch would build one version and label another.
check_pins() {
    local pairs=(
        "k8s k8s.io/kubernetes $K8S_VERSION" "etcd go.etcd.io/etcd/server/v3 $ETCD_VERSION"
        "coredns github.com/coredns/coredns $COREDNS_VERSION" "crictl sigs.k8s.io/cri-tools $CRICTL_VERSION"
        "cni github.com/containernetworking/plugins $CNI_VERSION" "flannel github.com/flannel-io/flannel $FLANNEL_VERSION"
        "flannel-cni github.com/containernetworking/plugins $FLANNEL_CNI_VERSION"
    ) pair module path want got
    for pair in "${pairs[@]}"; do
        read -r module path want <<<"$pair"
        got="$(awk -v p="$path" '$1 == p && $2 ~ /^v[0-9]/ { print $2; exit } $1 == "require" && $2 == p { print $3; exit }' \
            "$SUPPLY/modules/$module/go.mod")"
        [[ "$got" == "$want" ]] || die "supply/modules/$module/go.mod requires $path ${got:-(nothing)}, versions.sh says $want"
    done
}

# go build in one of supply/modules/, at the lowest priority: other builds share these 2 cores.
# Its output (module downloads, errors) goes to the build log.
gobuild() {
    local module="$1" out="$2" ldflags="$3"
    shift 3
    logged nice -n 19 go -C "$SUPPLY/modules/$module" build -trimpath -buildvcs=false -mod=readonly \
        -ldflags "-s -w $ldflags" -o "$out" "$@"
}

build_kubernetes() {
    local bin="$1" flags=() key minor
    minor="${K8S_VERSION#v1.}"
    minor="${minor%%.*}"
    for key in "gitVersion=$K8S_VERSION" gitMajor=1 "gitMinor=$minor" gitCommit= gitTreeState=clean "buildDate=$K8S_BUILD_DATE"; do
        flags+=("-X k8s.io/client-go/pkg/version.$key" "-X k8s.io/component-base/version.$key")
    done
    CGO_ENABLED=0 gobuild k8s "$bin/" "${flags[*]}" k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubelet \
        k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
}

# Downloads the other modules' dependencies while Kubernetes compiles: the network works while the
# CPU does. A failure here is only reported by the build that needs the module.
prefetch_modules() {
    local m
    for m in etcd crictl coredns cni flannel flannel-cni; do
        GONOSUMDB=sigs.k8s.io/cri-tools nice -n 19 go -C "$SUPPLY/modules/$m" mod download >>"$BUILD_LOG" 2>&1 || true
    done
}

build_go_binaries() {
    local bin="$1"
    export GOTOOLCHAIN=local GOFLAGS=
    prefetch_modules &
    PREFETCH_PID=$!
    step "building Kubernetes $K8S_VERSION: kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy (the longest step)"
    build_kubernetes "$bin"
    wait "$PREFETCH_PID" || true
    PREFETCH_PID=
    step "building etcd $ETCD_VERSION (etcd etcdctl etcdutl), crictl $CRICTL_VERSION, the supply's own tool"
    # The module proxy does not tell etcd's commit: its "Git SHA" says where the source came from.
    local etcd_sha="-X go.etcd.io/etcd/api/v3/version.GitSHA=module-$ETCD_VERSION"
    CGO_ENABLED=0 gobuild etcd "$bin/etcd" "$etcd_sha" go.etcd.io/etcd/server/v3
    CGO_ENABLED=0 gobuild etcd "$bin/etcdctl" "$etcd_sha" go.etcd.io/etcd/etcdctl/v3
    CGO_ENABLED=0 gobuild etcd "$bin/etcdutl" "$etcd_sha" go.etcd.io/etcd/etcdutl/v3
    # The checksum database has no entry for cri-tools v1.34.0 (see modules/crictl/go.mod).
    CGO_ENABLED=0 GONOSUMDB=sigs.k8s.io/cri-tools gobuild crictl "$bin/crictl" \
        "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
    CGO_ENABLED=0 logged nice -n 19 go -C "$SUPPLY/tool" build -trimpath -buildvcs=false -ldflags "-s -w" -o "$bin/supplytool" .
    step "building CoreDNS $COREDNS_VERSION"
    CGO_ENABLED=0 gobuild coredns "$bin/coredns" "-X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_COMMIT" \
        github.com/coredns/coredns
    step "building the CNI plugins $CNI_VERSION, flanneld $FLANNEL_VERSION and the flannel CNI plugin"
    mkdir -p "$bin/cni"
    # Every plugin the module's go.mod lists as a tool: those of upstream's release tarball.
    CGO_ENABLED=0 gobuild cni "$bin/cni/" \
        "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_VERSION" tool
    [[ $(find "$bin/cni" -type f | wc -l) -eq 18 ]] || die "expected the 18 CNI plugins of $CNI_VERSION in $bin/cni"
    CGO_ENABLED=0 gobuild flannel-cni "$bin/cni/flannel" \
        "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$FLANNEL_CNI_VERSION" \
        github.com/containernetworking/plugins/plugins/meta/flannel
    # flanneld's UDP backend needs cgo, as upstream builds it on amd64; the image carries Debian's libc.
    CGO_ENABLED=1 gobuild flannel "$bin/flanneld" "-X github.com/flannel-io/flannel/pkg/version.Version=$FLANNEL_VERSION" \
        github.com/flannel-io/flannel
    CGO_ENABLED=0 gobuild flannel "$bin/install-conf" "" github.com/flannel-io/flannel/cmd/install_conf
    # pause, as build/pause/Makefile builds it.
    logged gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-$K8S_VERSION" -o "$bin/pause" \
        "$(go env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
    strip "$bin/pause"
}

# shellcheck source=scripts/apt-mirror.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/apt-mirror.sh"

# apt with a private configuration: only the suite the lab's nodes are built from, private lists,
# cache and dpkg status. APT_OPTS is set by setup_apt.
APT_OPTS=()
private_apt() { "$@" "${APT_OPTS[@]}"; }

setup_apt() {
    local dir="$1" mirror
    mirror="$(apt_mirror "$DEBIAN_SUITE")" || die "no apt source for Debian $DEBIAN_SUITE on this machine; add one to apt's sources"
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/parts"
    : >"$dir/status-empty"
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$mirror" "$DEBIAN_SUITE" >"$dir/sources.list"
    APT_OPTS=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o "Dir::Etc::sourceparts=$dir/parts"
        -o "Dir::State=$dir" -o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status-empty"
        -o "Dir::Cache=$dir/cache" -o Acquire::Languages=none -o Debug::NoLocking=true
        -o APT::Install-Recommends=false -o APT::Get::Assume-Yes=true -o quiet=1)
    logged private_apt apt-get update
}

# A dpkg status that says a `debootstrap --variant=minbase` system is installed: the suite's
# required packages and apt, as apt resolves them on an empty system.
minbase_status() {
    local out="$1" required base
    mapfile -t required < <(private_apt apt-cache dumpavail | awk '/^Package:/ { p = $2 } /^Priority: required/ { print p }' | sort -u)
    mapfile -t base < <(private_apt apt-get -s install "${required[@]}" apt | awk '$1 == "Inst" { print $2 }' | sort -u)
    [[ ${#base[@]} -gt 50 ]] || die "could not resolve the minbase package set (${#base[@]} packages)"
    private_apt apt-cache show --no-all-versions "${base[@]}" |
        awk '/^Package:/ { print; print "Status: install ok installed"; next } { print }' >"$out"
}

fetch_debs() {
    local apt="$1" node="$2" image="$3" closure
    step "downloading Debian packages: the node repository (${NODE_DEBS[*]} and what minbase lacks), the images' iptables and busybox"
    setup_apt "$apt"
    minbase_status "$apt/status-minbase"
    mkdir -p "$node/partial"
    # Kept in the supply: the tests resolve a node's install against it.
    cp "$apt/status-minbase" "$SUPPLY_TMP/debian-minbase.status"
    logged private_apt apt-get -o "Dir::State::status=$apt/status-minbase" -o "Dir::Cache::archives=$node" \
        install --download-only "${NODE_DEBS[@]}"
    rm -rf "$node/partial" "$node/lock"
    # The images get iptables and conntrack with every library they load (down to libc), busybox and the CA bundle.
    mapfile -t closure < <(private_apt apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances iptables conntrack | grep -v -e '^ ' -e '^<' | sort -u)
    mkdir -p "$image"
    (cd "$image" && logged private_apt apt-get download "${closure[@]}" busybox-static ca-certificates)
}

# Extracts packages into a root with merged /usr, as a bookworm system has it.
extract_debs() {
    local root="$1" d
    shift
    mkdir -p "$root"
    for d in "$@"; do dpkg-deb -x "$d" "$root"; done
    for d in bin sbin lib lib64; do
        if [[ -d "$root/$d" && ! -L "$root/$d" ]]; then
            mkdir -p "$root/usr/$d"
            cp -a "$root/$d/." "$root/usr/$d/"
            rm -rf "${root:?}/$d"
        fi
        [[ -e "$root/usr/$d" ]] && ln -sfn "usr/$d" "$root/$d"
    done
    rm -rf "$root"/usr/share/{doc,man,info,lintian,locale,bug} "$root"/usr/lib/x86_64-linux-gnu/gconv
}

# A distroless-like base: users root, nobody and nonroot (65532), nsswitch, the CA bundle, /tmp.
stage_base() {
    local root="$1" certs="$2"
    mkdir -p "$root"/{etc/ssl/certs,tmp,root,home/nonroot,var}
    chmod 1777 "$root/tmp"
    chmod 0700 "$root/root" "$root/home/nonroot"
    printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
        'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$root/etc/group"
    printf 'hosts: files dns\nnetworks: files\npasswd: files\ngroup: files\n' >"$root/etc/nsswitch.conf"
    cp "$certs" "$root/etc/ssl/certs/ca-certificates.crt"
}

# iptables (nft backend, as the nodes' alternatives choose) and conntrack with their libraries.
stage_iptables() {
    local root="$1" debs="$2" deb keep=() t
    for deb in "$debs"/*.deb; do
        case "$(basename "$deb")" in busybox-static_* | ca-certificates_*) ;; *) keep+=("$deb") ;; esac
    done
    extract_debs "$root" "${keep[@]}"
    for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        ln -sfn "${t/tables/tables-nft}" "$root/usr/sbin/$t"
    done
    [[ -e "$root/usr/sbin/iptables-nft" ]] || die "the iptables package has no iptables-nft"
}

check_in_root() {
    local root="$1"
    shift
    [[ $EUID -eq 0 ]] || return 0
    chroot "$root" "$@" >>"$BUILD_LOG" 2>&1 || die "'$*' does not run inside the image root $root"
}

build_images() {
    local bin="$1" debs="$2" work="$3" layout="$4" oci=() base=() cap certs b
    step "building the OCI images"
    mkdir -p "$work/certs"
    dpkg-deb -x "$debs"/ca-certificates_*.deb "$work/certs"
    certs="$work/ca-certificates.crt"
    find "$work/certs/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat >"$certs"
    [[ -s "$certs" ]] || die "no CA certificates in the ca-certificates package"
    local path='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    oci=(-layout "$layout" -mtime "$(date -d "$K8S_BUILD_DATE" +%s)" -env "$path")
    # Images on the base (all but pause) give the nonroot user its home.
    base=("${oci[@]}" -owner /home/nonroot=65532:65532)

    for b in kube-apiserver kube-controller-manager kube-scheduler; do
        stage_base "$work/$b" "$certs"
        install -D -m 0755 "$bin/$b" "$work/$b/usr/local/bin/$b"
        logged "$bin/supplytool" image -root "$work/$b" -ref "$REGISTRY_PATH/$b:$K8S_VERSION" "${base[@]}" \
            -entrypoint "[\"/usr/local/bin/$b\"]"
    done

    stage_base "$work/kube-proxy" "$certs"
    stage_iptables "$work/kube-proxy" "$debs"
    install -D -m 0755 "$bin/kube-proxy" "$work/kube-proxy/usr/local/bin/kube-proxy"
    check_in_root "$work/kube-proxy" /usr/sbin/iptables --version
    check_in_root "$work/kube-proxy" /usr/sbin/conntrack --version
    logged "$bin/supplytool" image -root "$work/kube-proxy" -ref "$REGISTRY_PATH/kube-proxy:$K8S_VERSION" "${base[@]}" \
        -entrypoint '["/usr/local/bin/kube-proxy"]'

    stage_base "$work/etcd" "$certs"
    mkdir -p "$work/etcd/var/etcd" "$work/etcd/var/lib/etcd"
    for b in etcd etcdctl etcdutl; do install -D -m 0755 "$bin/$b" "$work/etcd/usr/local/bin/$b"; done
    logged "$bin/supplytool" image -root "$work/etcd" -ref "$REGISTRY_PATH/etcd:$ETCD_IMAGE_TAG" "${base[@]}" \
        -cmd '["/usr/local/bin/etcd"]'

    mkdir -p "$work/pause"
    install -m 0755 "$bin/pause" "$work/pause/pause"
    logged "$bin/supplytool" image -root "$work/pause" -ref "$REGISTRY_PATH/pause:$PAUSE_VERSION" "${oci[@]}" \
        -entrypoint '["/pause"]' -user 65535:65535

    # CoreDNS runs as nonroot and binds port 53 with the file capability cap_net_bind_service=+ep
    # (a vfs_cap_data revision 2: magic|effective, permitted bit 10), as upstream's image sets it.
    cap=0100000200040000000000000000000000000000
    stage_base "$work/coredns" "$certs"
    install -m 0755 "$bin/coredns" "$work/coredns/coredns"
    logged "$bin/supplytool" image -root "$work/coredns" -ref "$REGISTRY_PATH/coredns:$COREDNS_VERSION" "${base[@]}" \
        -entrypoint '["/coredns"]' -user 65532:65532 -xattr "/coredns=security.capability=$cap"

    stage_busybox "$work/busybox" "$debs" "$certs"
    logged "$bin/supplytool" image -root "$work/busybox" -ref "$REGISTRY_PATH/busybox:$BUSYBOX_TAG" "${base[@]}" \
        -cmd '["sh"]'

    # flannel: the daemon with iptables, and the CNI plugin in a busybox the init container copies it with.
    stage_base "$work/flannel" "$certs"
    stage_iptables "$work/flannel" "$debs"
    install -D -m 0755 "$bin/flanneld" "$work/flannel/opt/bin/flanneld"
    install -D -m 0755 "$bin/install-conf" "$work/flannel/opt/bin/install-conf"
    check_in_root "$work/flannel" /opt/bin/flanneld --version
    logged "$bin/supplytool" image -root "$work/flannel" -ref "$REGISTRY_PATH/flannel:$FLANNEL_VERSION" "${base[@]}" \
        -entrypoint '["/opt/bin/flanneld"]'
    stage_busybox "$work/flannel-cni-plugin" "$debs" "$certs"
    install -m 0755 "$bin/cni/flannel" "$work/flannel-cni-plugin/flannel"
    logged "$bin/supplytool" image -root "$work/flannel-cni-plugin" "${base[@]}" \
        -ref "$REGISTRY_PATH/flannel-cni-plugin:$FLANNEL_CNI_VERSION" -cmd '["sh"]'
}

# Debian's static busybox with a link in /bin for every applet.
stage_busybox() {
    local root="$1" debs="$2" certs="$3" x="$1.busybox-deb" applet
    stage_base "$root" "$certs"
    dpkg-deb -x "$debs"/busybox-static_*.deb "$x"
    install -D -m 0755 "$x/bin/busybox" "$root/bin/busybox"
    rm -rf "$x"
    while read -r applet; do
        [[ -n "$applet" && "$applet" != busybox && ! -e "$root/bin/$applet" ]] && ln -s busybox "$root/bin/$applet"
    done < <("$root/bin/busybox" --list)
    [[ -L "$root/bin/sh" ]] || die "busybox has no sh applet"
}

# One .deb, its files' times fixed: dpkg-deb takes the rest from SOURCE_DATE_EPOCH.
make_deb() {
    local dir="$1" out="$2"
    find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    # xz level 3: a tenth bigger than the default 6, three times faster.
    logged dpkg-deb --root-owner-group -Zxz -z3 --build "$dir" "$out"
}

# Package control file with what upstream's spec files declare (kubernetes/release, cmd/krel/templates).
control() {
    local dir="$1" name="$2" version="$3" section="$4" depends="$5" summary="$6"
    mkdir -p "$dir/DEBIAN"
    {
        echo "Package: $name"
        echo "Version: $version"
        echo "Architecture: amd64"
        echo "Maintainer: etcd-dr lab supply <lab-packages@etcd-dr.invalid>"
        echo "Installed-Size: $(du -sk --exclude=DEBIAN "$dir" | cut -f1)"
        [[ -n "$depends" ]] && echo "Depends: $depends"
        echo "Section: $section"
        echo "Priority: optional"
        echo "Homepage: https://kubernetes.io"
        echo "Description: $summary"
        echo " $summary."
    } >"$dir/DEBIAN/control"
}

build_packages() {
    local bin="$1" work="$2" out="$3" license k8s_deb cni_deb crictl_deb d p
    step "building the .deb packages kubelet kubeadm kubectl cri-tools kubernetes-cni"
    license="$(go env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION/LICENSE"
    k8s_deb="${K8S_VERSION#v}-$PKG_REVISION"
    cni_deb="${CNI_VERSION#v}-$PKG_REVISION"
    crictl_deb="${CRICTL_VERSION#v}-$PKG_REVISION"
    mkdir -p "$out"
    for p in kubelet kubeadm kubectl cri-tools kubernetes-cni; do
        install -D -m 0644 "$license" "$work/$p/usr/share/doc/$p/LICENSE"
    done

    d="$work/kubelet"
    install -D -m 0755 "$bin/kubelet" "$d/usr/bin/kubelet"
    install -D -m 0644 "$SUPPLY/packaging/kubelet.service" "$d/usr/lib/systemd/system/kubelet.service"
    install -D -m 0644 "$SUPPLY/packaging/kubelet.default" "$d/etc/default/kubelet"
    install -D -m 0644 /dev/null "$d/var/lib/kubelet/.kubelet-keep"
    install -D -m 0644 /dev/null "$d/etc/kubernetes/manifests/.kubelet-keep"
    control "$d" kubelet "$k8s_deb" net "iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), mount, util-linux" \
        "Node agent for Kubernetes clusters"
    echo /etc/default/kubelet >"$d/DEBIAN/conffiles"
    install -m 0755 "$SUPPLY/packaging/kubelet.postinst" "$d/DEBIAN/postinst"
    install -m 0755 "$SUPPLY/packaging/kubelet.prerm" "$d/DEBIAN/prerm"
    install -m 0755 "$SUPPLY/packaging/kubelet.postrm" "$d/DEBIAN/postrm"
    make_deb "$d" "$out/kubelet_${k8s_deb}_amd64.deb"

    d="$work/kubeadm"
    install -D -m 0755 "$bin/kubeadm" "$d/usr/bin/kubeadm"
    install -D -m 0644 "$SUPPLY/packaging/10-kubeadm.conf" "$d/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    control "$d" kubeadm "$k8s_deb" admin "" "Command-line utility for administering a Kubernetes cluster"
    make_deb "$d" "$out/kubeadm_${k8s_deb}_amd64.deb"

    d="$work/kubectl"
    install -D -m 0755 "$bin/kubectl" "$d/usr/bin/kubectl"
    control "$d" kubectl "$k8s_deb" admin "" "Command-line utility for interacting with a Kubernetes cluster"
    make_deb "$d" "$out/kubectl_${k8s_deb}_amd64.deb"

    d="$work/cri-tools"
    install -D -m 0755 "$bin/crictl" "$d/usr/bin/crictl"
    control "$d" cri-tools "$crictl_deb" admin "" "Command-line utility for interacting with a container runtime"
    make_deb "$d" "$out/cri-tools_${crictl_deb}_amd64.deb"

    d="$work/kubernetes-cni"
    mkdir -p "$d/opt/cni/bin"
    find "$bin/cni" -maxdepth 1 -type f ! -name flannel -exec install -m 0755 -t "$d/opt/cni/bin" {} +
    install -D -m 0644 /dev/null "$d/etc/cni/net.d/.kubernetes-cni-keep"
    control "$d" kubernetes-cni "$cni_deb" net "" "Binaries required to provision kubernetes container networking"
    make_deb "$d" "$out/kubernetes-cni_${cni_deb}_amd64.deb"
}

# The lab's package-signing key: made once, kept in the cache beside the builds.
ensure_key() {
    if [[ ! -f "$GPG_HOME/fingerprint" ]]; then
        log "making the lab's package-signing key (once per machine)"
        rm -rf "$GPG_HOME"
        mkdir -p "$CACHE_BASE"
        mkdir -m 0700 "$GPG_HOME"
        logged gpg --homedir "$GPG_HOME" --batch --passphrase '' --quick-gen-key \
            'etcd-dr lab package signing <lab-packages@etcd-dr.invalid>' rsa3072 sign never
        gpg --homedir "$GPG_HOME" --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }' \
            >"$GPG_HOME/fingerprint"
        gpgconf --homedir "$GPG_HOME" --kill gpg-agent
    fi
    [[ -s "$GPG_HOME/fingerprint" ]] || die "no fingerprint in $GPG_HOME"
}

# A flat, signed apt repository in dir: Packages(.gz), Release, InRelease, Release.gpg, Release.key.
sign_repo() {
    local dir="$1" label="$2" fpr gpg_opts
    fpr="$(cat "$GPG_HOME/fingerprint")"
    gpg_opts=(--homedir "$GPG_HOME" --batch --yes --local-user "$fpr" --digest-algo SHA512)
    (
        cd "$dir"
        apt-ftparchive packages . 2>>"$BUILD_LOG" | sed 's#^Filename: \./#Filename: #' >Packages
        gzip -9n -k Packages
        apt-ftparchive -o "APT::FTPArchive::Release::Origin=etcd-dr lab" -o "APT::FTPArchive::Release::Label=$label" \
            -o APT::FTPArchive::Release::Architectures=amd64 release . >"$dir.Release"
        mv "$dir.Release" Release
        gpg "${gpg_opts[@]}" --clearsign -o InRelease Release
        gpg "${gpg_opts[@]}" --armor --detach-sign -o Release.gpg Release
        gpg --homedir "$GPG_HOME" --armor --export "$fpr" >Release.key
    ) >>"$BUILD_LOG" 2>&1 || die "signing the repository $dir failed; see $BUILD_LOG"
    gpgconf --homedir "$GPG_HOME" --kill gpg-agent
}

write_repos() {
    local www="$1" debs="$2" node_dir="$3" k8s_repo
    step "writing the signed apt repositories"
    ensure_key
    k8s_repo="$www/core:/stable:/v$K8S_MINOR/deb"
    mkdir -p "$k8s_repo/amd64" "$www/debian" "$www/cni"
    mv "$debs"/*.deb "$k8s_repo/amd64/"
    sign_repo "$k8s_repo" "kubernetes core stable v${K8S_MINOR}"
    mv "$node_dir"/*.deb "$www/debian/"
    sign_repo "$www/debian" "Debian $DEBIAN_SUITE packages for the lab's nodes"
    sed -e "s#@FLANNEL_VERSION@#$FLANNEL_VERSION#g" -e "s#@FLANNEL_CNI_VERSION@#$FLANNEL_CNI_VERSION#g" \
        "$SUPPLY/cni/kube-flannel.yml.in" >"$www/cni/kube-flannel.yml.in"
}

# Pushes every image into a registry whose storage is in the build: a real push over HTTP to
# docker-registry on 127.0.0.1, started for this and stopped after it.
fill_registry() {
    local dir="$1" bin="$2" layout="$3" port pid config status=0 i
    step "pushing the images into the registry storage"
    port="$("$bin/supplytool" freeport)"
    config="$dir/registry-build.yml"
    "$SUPPLY/serve.sh" registry-config "127.0.0.1:$port" "$dir/registry" false >"$config"
    docker-registry serve "$config" >>"$BUILD_LOG" 2>&1 &
    pid=$!
    for i in $(seq 1 100); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { status=1; break; }
        sleep 0.1
    done
    [[ $i -lt 100 && $status -eq 0 ]] || { kill "$pid" 2>/dev/null || true; die "docker-registry did not start; see $BUILD_LOG"; }
    "$bin/supplytool" push -layout "$layout" -registry "127.0.0.1:$port" >>"$BUILD_LOG" 2>&1 || status=$?
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$config"
    [[ $status -eq 0 ]] || die "pushing the images failed; see $BUILD_LOG"
    # The registry stores the same bytes as the layout: keep them once on disk.
    local blob digest data
    for blob in "$layout"/blobs/sha256/*; do
        digest="$(basename "$blob")"
        data="$dir/registry/docker/registry/v2/blobs/sha256/${digest:0:2}/$digest/data"
        if [[ -f "$data" ]] && cmp -s "$blob" "$data"; then ln -f "$blob" "$data"; fi
    done
}

# kubeadm itself names the images it deploys; the supply must hold exactly those, plus its extras.
check_kubeadm_images() {
    local dir="$1" want got
    want="$("$dir/bin/kubeadm" config images list --kubernetes-version "$K8S_VERSION" --image-repository "lab.invalid/$REGISTRY_PATH" |
        sed "s#^lab.invalid/$REGISTRY_PATH/##" | sort)"
    got="$(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$dir/oci/index.json" | sed "s#^$REGISTRY_PATH/##" |
        grep -v -e '^busybox:' -e '^flannel:' -e '^flannel-cni-plugin:' | sort)"
    [[ "$want" == "$got" ]] || die "kubeadm $K8S_VERSION deploys [$(echo "$want" | xargs)], the supply built [$(echo "$got" | xargs)]"
    jq -R . <<<"$want" | jq -sc .
}

write_supply_json() {
    local dir="$1" images kubeadm_images
    images="$(jq -c '[.manifests[].annotations["org.opencontainers.image.ref.name"] | sub("^[^/]+/"; "")]' "$dir/oci/index.json")"
    kubeadm_images="$(check_kubeadm_images "$dir")"
    jq -n --arg k8s "$K8S_VERSION" --arg etcd "$ETCD_VERSION" --arg etcdTag "$ETCD_IMAGE_TAG" \
        --arg coredns "$COREDNS_VERSION" --arg pause "$PAUSE_VERSION" --arg crictl "$CRICTL_VERSION" \
        --arg cni "$CNI_VERSION" --arg flannel "$FLANNEL_VERSION" --arg flannelCni "$FLANNEL_CNI_VERSION" \
        --arg busybox "$BUSYBOX_TAG" --arg rev "$PKG_REVISION" --arg registryPath "$REGISTRY_PATH" \
        --arg aptPath "core:/stable:/v$K8S_MINOR/deb" --argjson images "$images" --argjson kubeadmImages "$kubeadm_images" '{
            kubernetesVersion: $k8s, etcdVersion: $etcd, etcdImageTag: $etcdTag, corednsVersion: $coredns,
            pauseVersion: $pause, crictlVersion: $crictl, cniVersion: $cni, flannelVersion: $flannel,
            flannelCniVersion: $flannelCni, busyboxTag: $busybox,
            packages: {
                kubelet: (($k8s | ltrimstr("v")) + "-" + $rev), kubeadm: (($k8s | ltrimstr("v")) + "-" + $rev),
                kubectl: (($k8s | ltrimstr("v")) + "-" + $rev), "cri-tools": (($crictl | ltrimstr("v")) + "-" + $rev),
                "kubernetes-cni": (($cni | ltrimstr("v")) + "-" + $rev)
            },
            registryPath: $registryPath, images: $images, kubeadmImages: $kubeadmImages,
            kubernetesAptPath: $aptPath, debianAptPath: "debian", flannelManifestTemplate: "cni/kube-flannel.yml.in"
        }' >"$dir/supply.json"
}

main() {
    local dir tmp cached_only=false
    case "${1:-}" in
        --cached-only) cached_only=true ;;
        "") ;;
        *) die "usage: supply/build.sh [--cached-only]" ;;
    esac
    K8S_MINOR="${K8S_VERSION#v}"
    K8S_MINOR="${K8S_MINOR%.*}"
    readonly K8S_MINOR
    dir="$(cache_dir)"
    if [[ -f "$dir/.complete" ]]; then
        log "cached: $dir"
        echo "$dir"
        return 0
    fi
    [[ $cached_only == false ]] || die "no supply built for these versions and sources yet: run make k8s-supply"
    mkdir -p "$CACHE_ROOT"
    # One build at a time; a second caller waits and then finds the first one's result.
    exec {lock}>"$CACHE_ROOT/.lock"
    if ! flock -n "$lock"; then
        log "another build of the supply is running; waiting for it"
        flock "$lock"
    fi
    if [[ -f "$dir/.complete" ]]; then
        log "cached: $dir"
        echo "$dir"
        return 0
    fi
    # Holding the lock, any build directory left is from a build that died: remove it.
    find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -name '.build.*' -exec rm -rf {} +
    : >"$BUILD_LOG"
    # The whole build at the lowest priority: other builds and tests share these 2 cores.
    renice -n 19 -p "$BASHPID" >/dev/null
    log "cold build into $dir (takes minutes; log: $BUILD_LOG)"
    df -h "$CACHE_ROOT" | tail -n 1 | awk '{ print "k8s-supply: disk free where the cache is: " $4 }' >&2
    "$ROOT/scripts/ensure-deps.sh" apt "${APT_PACKAGES[@]}"
    find_go
    check_pins
    SOURCE_DATE_EPOCH="$(date -d "$K8S_BUILD_DATE" +%s)"
    export SOURCE_DATE_EPOCH
    tmp="$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")"
    SUPPLY_TMP="$tmp"
    BUILD_TMP="$tmp"
    mkdir -p "$tmp/bin" "$tmp/work"

    build_go_binaries "$tmp/bin"
    fetch_debs "$tmp/work/apt" "$tmp/work/node-debs" "$tmp/work/image-debs"
    build_images "$tmp/bin" "$tmp/work/image-debs" "$tmp/work/images" "$tmp/oci"
    build_packages "$tmp/bin" "$tmp/work/packages" "$tmp/work/debs"
    write_repos "$tmp/www" "$tmp/work/debs" "$tmp/work/node-debs"
    fill_registry "$tmp" "$tmp/bin" "$tmp/oci"
    step "finishing: supply.json, cache entry"
    write_supply_json "$tmp"
    rm -rf "$tmp/work"
    echo "$((SECONDS - STARTED))" >"$tmp/build-seconds"
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    BUILD_TMP=
    # Builds for other versions or sources are only cache; keep the disk to one supply.
    find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -name 'v*_etcd-*' ! -path "$dir" -exec rm -rf {} +
    log "built in $((SECONDS - STARTED))s ($(du -sh "$dir" | cut -f1)): $dir"
    echo "$dir"
}

main "$@"
