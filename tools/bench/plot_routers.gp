# Cache hit ratio vs number of routers, with and without the mesh, from
# tools/bench/run's routers.dat ("routers hit_no_mesh hit_mesh"; NaN = not run).
# Variables (gnuplot -e): data, out.
set terminal pngcairo size 800,500 font ",10" noenhanced
set output out
set title "Cache hit ratio vs routers (multi-turn, 8 workers, each turn to a random router)"
set xlabel "routers"
set ylabel "cache hit ratio"
set xrange [0.5:5.5]
set xtics 1
set yrange [0:1]
set grid
set key bottom left
plot data using 1:3 with linespoints lw 2 pt 7 title "cache_aware + mesh", \
     data using 1:2 with linespoints lw 2 pt 5 title "cache_aware, no mesh"
