#!/bin/bash
cd /work/main
bash docs/results/test_time/b2b_2026-12-07/calib.sh
bash docs/results/test_time/measure.sh /tmp/b2b/head 2288d32
bash docs/results/test_time/b2b_2026-12-07/calib.sh
bash docs/results/test_time/measure.sh /tmp/b2b/base 2f5ff70
bash docs/results/test_time/b2b_2026-12-07/calib.sh
echo DONE
