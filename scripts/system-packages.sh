#!/usr/bin/env bash
# Installs the Debian packages creditbot needs, only those missing, so a second run is instant.
#   fonts-noto-cjk       Chinese glyphs for the PDF report
#   libharfbuzz-subset0  font subsetting; without it one Chinese PDF takes ~8 s instead of ~0.2 s
#   libpango-1.0-0 libpangoft2-1.0-0  WeasyPrint's text layout
#   postgresql           the second database the test suite runs on
#   chromium             headless browser for the web chat's end-to-end test
#   poppler-utils        pdftoppm, to look at rendered reports
set -euo pipefail
packages=(fonts-noto-cjk libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 postgresql chromium poppler-utils)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
