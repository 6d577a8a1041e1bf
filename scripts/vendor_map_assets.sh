#!/usr/bin/env bash
# Vendor the Leaflet assets that folium and streamlit-folium load, so the map works offline.
#
# Usage: scripts/vendor_map_assets.sh        (from anywhere; needs npm, tar, sha256sum, python)
#
# Every package is fetched as a pinned tarball from the npm registry with `npm pack`
# (which checks the registry's integrity hash), and only the files a browser actually
# needs are copied to dashboard/static/vendor/<package>/. The Leaflet.heat build is the
# one folium ships (it carries a fix for weighted points), copied from the installed folium.
# The mapping from folium's CDN links to these files is in dashboard/maps.py; when a
# version here changes, nothing else has to (the paths carry no version numbers).
# dashboard/static/vendor/VERSIONS.txt records versions, licences and tarball checksums.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${repo_root}/dashboard/static/vendor"
python="${PYTHON:-${repo_root}/.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# Pinned packages: "<npm spec>|<licence>|<vendor dir>".
packages=(
  "leaflet@1.9.4|BSD-2-Clause|leaflet"
  "jquery@3.7.1|MIT|jquery"
  "drmonty-leaflet-awesome-markers@2.0.2|MIT|leaflet.awesome-markers"
  "@fortawesome/fontawesome-free@6.2.0|Icons CC-BY-4.0, fonts OFL-1.1, code MIT|fontawesome-free"
  "leaflet.markercluster@1.5.3|MIT|leaflet.markercluster"
  "leaflet.fullscreen@3.0.0|MIT|leaflet.fullscreen"
  "leaflet.heat@0.2.0|BSD-2-Clause|leaflet.heat"
)

# Files to keep from each package: "<path inside the tarball> <path under the vendor dir>".
files_for() {
  case "$1" in
    leaflet)
      echo "dist/leaflet.js leaflet.js"
      echo "dist/leaflet.css leaflet.css"
      for img in layers.png layers-2x.png marker-icon.png marker-icon-2x.png marker-shadow.png; do
        echo "dist/images/${img} images/${img}"
      done
      echo "LICENSE LICENSE"
      ;;
    jquery)
      echo "dist/jquery.min.js jquery.min.js"
      echo "LICENSE.txt LICENSE.txt"
      ;;
    leaflet.awesome-markers)
      # The CSS refers to the "soft" sprites and the shadows only.
      echo "js/leaflet.awesome-markers.min.js leaflet.awesome-markers.min.js"
      echo "css/leaflet.awesome-markers.css leaflet.awesome-markers.css"
      for img in markers-soft.png markers-soft@2x.png markers-shadow.png markers-shadow@2x.png; do
        echo "css/images/${img} images/${img}"
      done
      ;;
    fontawesome-free)
      # Solid style only: folium.Icon(prefix="fa") uses the solid face. Browsers take the
      # woff2 (first in the @font-face list), so the .ttf fallback is left out.
      echo "css/fontawesome.min.css css/fontawesome.min.css"
      echo "css/solid.min.css css/solid.min.css"
      echo "webfonts/fa-solid-900.woff2 webfonts/fa-solid-900.woff2"
      echo "LICENSE.txt LICENSE.txt"
      ;;
    leaflet.markercluster)
      echo "dist/leaflet.markercluster.js leaflet.markercluster.js"
      echo "dist/MarkerCluster.css MarkerCluster.css"
      echo "dist/MarkerCluster.Default.css MarkerCluster.Default.css"
      echo "MIT-LICENCE.txt MIT-LICENCE.txt"
      ;;
    leaflet.fullscreen)
      # The npm package has no minified build; the source is 8 kB.
      echo "Control.FullScreen.js Control.FullScreen.js"
      echo "Control.FullScreen.css Control.FullScreen.css"
      echo "icon-fullscreen.svg icon-fullscreen.svg"
      echo "LICENSE LICENSE"
      ;;
    leaflet.heat)
      echo "LICENSE LICENSE"
      ;;
    *)
      echo "unknown vendor dir: $1" >&2
      return 1
      ;;
  esac
}

rm -rf "${dest}"
mkdir -p "${dest}"
versions="${dest}/VERSIONS.txt"
{
  echo "# Map assets served by the app itself (dashboard/static/vendor), so maps work offline."
  echo "# Written by scripts/vendor_map_assets.sh; do not edit by hand."
  echo "# package | version | licence | vendor dir | sha256 of the npm tarball"
} >"${versions}"

for entry in "${packages[@]}"; do
  IFS="|" read -r spec licence dir <<<"${entry}"
  name="${spec%@*}"
  version="${spec##*@}"
  (cd "${work}" && npm pack --silent "${spec}" >"${work}/tarball-name" 2>"${work}/npm-stderr") || {
    cat "${work}/npm-stderr" >&2
    exit 1
  }
  tarball="${work}/$(tail -n 1 "${work}/tarball-name")"
  checksum="$(sha256sum "${tarball}" | cut -d " " -f 1)"
  rm -rf "${work}/package"
  tar -xzf "${tarball}" -C "${work}"
  while read -r src target; do
    mkdir -p "$(dirname "${dest}/${dir}/${target}")"
    cp "${work}/package/${src}" "${dest}/${dir}/${target}"
  done < <(files_for "${dir}")
  echo "${name} | ${version} | ${licence} | ${dir} | ${checksum}" >>"${versions}"
done

# Leaflet.heat as patched and shipped by folium (same upstream licence as leaflet.heat).
folium_dir="$("${python}" -c 'import pathlib, folium; print(pathlib.Path(folium.__file__).parent)')"
folium_version="$("${python}" -c 'import folium; print(folium.__version__)')"
cp "${folium_dir}/templates/leaflet_heat.min.js" "${dest}/leaflet.heat/leaflet-heat.min.js"
echo "leaflet.heat/leaflet-heat.min.js: the build shipped with folium ${folium_version}" \
  "(folium/templates/leaflet_heat.min.js, MIT), upstream leaflet.heat 0.2.0 with a weights fix" \
  >>"${versions}"

echo "# Left out on purpose: Bootstrap JS/CSS and the Bootstrap 3 glyphicons (nothing on our maps" \
  "uses them; use folium.Icon(prefix=\"fa\")), and folium's awesome-marker rotation CSS." >>"${versions}"
echo >>"${versions}"
echo "# Files (bytes):" >>"${versions}"
(cd "${dest}" && find . -type f ! -name VERSIONS.txt | LC_ALL=C sort | while read -r f; do
  printf '%8d  %s\n' "$(stat -c %s "${f}")" "${f#./}"
done) >>"${versions}"
total="$(du -sb --exclude=VERSIONS.txt "${dest}" | cut -f 1)"
echo "# Total: ${total} bytes" >>"${versions}"
echo "Vendored map assets into ${dest} (${total} bytes)."
