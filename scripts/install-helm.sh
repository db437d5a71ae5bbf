#!/usr/bin/env bash
# Install the real `helm` binary used by the chart tests (tests/engine/test_helm.py).
#
# Idempotent: if `helm` at HELM_VERSION is already on PATH or in <repo>/.tools/bin, nothing
# happens. Otherwise it is built from source with the Go toolchain through the Go module proxy:
#     GOBIN=<repo>/.tools/bin go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION
# (.tools/ is git-ignored). Override the version with HELM_VERSION=v3.x.y.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="$REPO/.tools/bin"

helm_version_of() {
    # prints e.g. v3.22.0, or nothing if the binary doesn't run
    "$1" version --template '{{.Version}}' 2>/dev/null || true
}

for candidate in "$TOOLS_BIN/helm" "$(command -v helm 2>/dev/null || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
        have="$(helm_version_of "$candidate")"
        if [[ "$have" == "$HELM_VERSION" ]]; then
            echo "helm $HELM_VERSION already installed: $candidate"
            exit 0
        fi
        echo "found $candidate at version '${have:-unknown}', want $HELM_VERSION"
    fi
done

if ! command -v go >/dev/null 2>&1; then
    echo "error: helm $HELM_VERSION is not installed and the Go toolchain (go) is not on PATH;" >&2
    echo "       install Go >= 1.24 or put helm $HELM_VERSION on PATH" >&2
    exit 1
fi

mkdir -p "$TOOLS_BIN"
echo "building helm $HELM_VERSION with $(go version) into $TOOLS_BIN ..."
start=$(date +%s)
# Module-aware install of a specific version; works outside any Go module.
# Builds use the Go build cache, so a rebuild after `rm -rf .tools` is fast.
# `go install` doesn't apply helm's Makefile ldflags; set the same ones a release build sets, so
# `helm version` reports $HELM_VERSION and the default Kubernetes version (capabilities, lint
# deprecation checks) follows the client-go helm is built with (v0.37 -> 1.37 for helm 3.22).
K8S_MAJOR="${HELM_K8S_MAJOR:-1}"
K8S_MINOR="${HELM_K8S_MINOR:-37}"
LDFLAGS="-s -w"
LDFLAGS+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
LDFLAGS+=" -X helm.sh/helm/v3/internal/version.metadata="
LDFLAGS+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
LDFLAGS+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$K8S_MAJOR"
LDFLAGS+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR"
LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$K8S_MAJOR"
LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR"
GOBIN="$TOOLS_BIN" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
    go install -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
end=$(date +%s)

have="$(helm_version_of "$TOOLS_BIN/helm")"
if [[ "$have" != "$HELM_VERSION" ]]; then
    echo "error: built $TOOLS_BIN/helm reports version '${have:-unknown}', expected $HELM_VERSION" >&2
    exit 1
fi
echo "installed helm $have at $TOOLS_BIN/helm in $((end - start)) s"
