# TTFT distribution (empirical CDF) per policy, from tools/bench/run's
# cdf-<kind>-<policy>.dat files. Variables (gnuplot -e): dir, kind, out.
set terminal pngcairo size 800,500 font ",10" noenhanced
set output out
set title sprintf("TTFT distribution, %s workload, 8 simulated workers", kind)
set xlabel "time to first token (ms, log scale)"
set ylabel "fraction of requests"
set logscale x
set yrange [0:1]
set grid
set key bottom right
plot sprintf("%s/cdf-%s-oracle.dat", dir, kind) using 1:2 with lines lw 2 title "oracle (pinned)", \
     sprintf("%s/cdf-%s-cache_aware.dat", dir, kind) using 1:2 with lines lw 2 title "cache_aware", \
     sprintf("%s/cdf-%s-round_robin.dat", dir, kind) using 1:2 with lines lw 2 title "round_robin"
