#!/bin/bash
# Every patch in patches/ against every interpreter here, exact context (patch -F0), on a
# throwaway copy of its multiprocessing package; prints the offsets patch reports.
PYS="$HOME/.pyenv/versions/3.8.18/bin/python3 $HOME/.pyenv/versions/3.9.18/bin/python3 $HOME/.pyenv/versions/3.10.13/bin/python3 $HOME/.pyenv/versions/3.11.7/bin/python3 $HOME/.pyenv/versions/3.12.1/bin/python3 $HOME/.pyenv/versions/3.13.0/bin/python3 /usr/bin/python3.11 /opt/shmharness-pythons/3.13/bin/python3.13 /opt/shmharness-pythons/3.14/bin/python3.14 /opt/shmharness-pythons/3.15/bin/python3.15"
for py in $PYS; do
  read ver mp < <($py -c 'import sys,os,multiprocessing as m;print("%d.%d.%d"%sys.version_info[:3], os.path.dirname(m.__file__))')
  minor=$(echo $ver | cut -d. -f2)
  if [ $minor -le 9 ]; then fam=3.8-3.9; elif [ $minor -le 12 ]; then fam=3.10-3.12; else fam=3.13; fi
  for d in "$(dirname "$0")"/../../patches/*/; do
    v=$(basename $d)
    t=$(mktemp -d); cp -r $mp $t/multiprocessing
    out=$(patch -p2 -F0 --dry-run -d $t < $d/$fam.diff 2>&1); rc=$?
    echo "$ver $fam $v rc=$rc $(echo "$out" | grep -v '^checking file' | tr '\n' ' ')"
    rm -rf $t
  done
done
