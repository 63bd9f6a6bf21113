# shellcheck shell=bash
# Shared by demo.sh and test.sh (sourced, not run): the Debian packages the build needs,
# installed only when missing, and the CMake configure step.

HEARTBEAT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HEARTBEAT_PACKAGES=(cmake ninja-build g++ libasio-dev catch2 pkgconf)
export DEBIAN_FRONTEND=noninteractive

heartbeat_apt_updated=0

# heartbeat_install PACKAGE...: apt-get installs those not installed yet, as root or with sudo.
heartbeat_install() {
    local package missing=()
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "note: not a Debian system; make sure these (or their equivalents) are installed:" \
            "$*" >&2
        return 0
    fi
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
    ((${#missing[@]} > 0)) || return 0

    local sudo=()
    if ((EUID != 0)); then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "error: missing ${missing[*]}; run as root or install sudo" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    echo "==> installing ${missing[*]}"
    if ((heartbeat_apt_updated == 0)); then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        heartbeat_apt_updated=1
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# heartbeat_install_optional PACKAGE...: the same for packages the build can do without: those
# that the archive does not have are skipped with a note.
heartbeat_install_optional() {
    command -v apt-cache >/dev/null 2>&1 || return 0
    local package available=()
    for package in "$@"; do
        if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            continue
        fi
        if ((heartbeat_apt_updated == 0)) && ((EUID == 0)); then
            apt-get update -q
            heartbeat_apt_updated=1
        fi
        if apt-cache show "$package" >/dev/null 2>&1; then
            available+=("$package")
        else
            echo "note: $package is not in this system's archive; skipping it" >&2
        fi
    done
    ((${#available[@]} == 0)) || heartbeat_install "${available[@]}" ||
        echo "note: could not install ${available[*]}; going on without" >&2
}

# heartbeat_install_for_compiler: the packages above, plus clang when CXX asks for it.
heartbeat_install_for_compiler() {
    local packages=("${HEARTBEAT_PACKAGES[@]}")
    if [[ ${CXX:-} == *clang* ]] && ! command -v "$CXX" >/dev/null 2>&1; then
        packages+=(clang)
    fi
    heartbeat_install "${packages[@]}"
}

# heartbeat_configure BUILD_DIR [CMAKE_ARGS...]: a Ninja Debug build of the tests and examples.
heartbeat_configure() {
    local build_dir=$1
    shift
    local cache="$build_dir/CMakeCache.txt"
    # A build directory made by another generator or compiler cannot be reused: start it over.
    if [[ -f $cache ]]; then
        if ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$cache" ||
            { [[ -n ${CXX:-} ]] &&
                ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=$(command -v "$CXX")\$" "$cache"; }; then
            echo "==> $build_dir was configured differently; reconfiguring from scratch"
            rm -rf "$build_dir/CMakeCache.txt" "$build_dir/CMakeFiles"
        fi
    fi
    cmake -S "$HEARTBEAT_ROOT" -B "$build_dir" -G Ninja \
        -DCMAKE_BUILD_TYPE=Debug \
        -DHEARTBEAT_BUILD_TESTS=ON \
        -DHEARTBEAT_BUILD_EXAMPLES=ON \
        "$@"
}
