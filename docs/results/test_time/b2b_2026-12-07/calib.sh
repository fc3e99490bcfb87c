#!/bin/bash
# The calibration binary is whatever test binary of this name the working tree last built (here the one of d298925).
# calibration: one fixed single-threaded test, seconds
/usr/bin/time -f "calib %e s" /work/main/target/debug/deps/integration-267b036685ec63bb stage_1_brings_the_two_views_of_an_architecture_together_natively --test-threads=1 2>&1 | tail -1
