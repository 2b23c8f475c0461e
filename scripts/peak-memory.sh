#!/bin/bash
# Runs a command and samples its /proc/PID/status every 20 ms: peak anonymous memory (RssAnon),
# peak file-backed memory (RssFile: mapped model files) and VmHWM (the peak of both together).
#   scripts/peak-memory.sh target/debug/keepsake generate --model ... --output out.png
set -u
"$@" > /dev/null 2>&1 &
pid=$!
ma=0; mf=0; hwm=0
while kill -0 $pid 2>/dev/null; do
  if s=$(cat /proc/$pid/status 2>/dev/null); then
    a=$(echo "$s" | awk '/RssAnon/{print $2}'); f=$(echo "$s" | awk '/RssFile/{print $2}'); h=$(echo "$s" | awk '/VmHWM/{print $2}')
    [ -n "$a" ] && [ "$a" -gt "$ma" ] && ma=$a
    [ -n "$f" ] && [ "$f" -gt "$mf" ] && mf=$f
    [ -n "$h" ] && hwm=$h
  fi
  sleep 0.02
done
wait $pid; rc=$?
echo "rc=$rc peak RssAnon $((ma/1024)) MiB, peak RssFile $((mf/1024)) MiB, VmHWM $((hwm/1024)) MiB"
