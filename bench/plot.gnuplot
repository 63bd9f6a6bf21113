# Server memory and CPU of idle sessions against the number of sessions, for the three servers.
#   gnuplot -e "datafile='results/idle_sweep.dat'; outfile='results/rss_cpu.png'" plot.gnuplot
# Columns of datafile: sessions, RSS bytes/session (bare go lib), CPU us/heartbeat (bare go lib).
if (!exists("datafile")) datafile = 'results/idle_sweep.dat'
if (!exists("outfile")) outfile = 'results/rss_cpu.png'
set terminal pngcairo size 1200,500 font "sans,10" noenhanced
set output outfile
set datafile missing "nan"
set grid
set logscale x
set xtics (100, 200, 500, 1000, 2000, 5000, 10000)
set autoscale xfix
set offsets graph 0.06, graph 0.06, 0, 0
set xlabel "idle sessions (PING every 1 s)"
set multiplot layout 1,2 title "heartbeat bench: idle sessions (bare = hand-written Asio, go = goroutine per connection, lib = heartbeat_session)"
set ylabel "server RSS per session (KiB)"
set yrange [0:*]
set key center right
plot datafile using 1:($2/1024) with linespoints lw 2 pt 7 title "bare", \
     datafile using 1:($3/1024) with linespoints lw 2 pt 5 title "go", \
     datafile using 1:($4/1024) with linespoints lw 2 pt 9 title "lib", \
     1 with lines dt 2 lc rgb "gray40" title "lib target (1 KiB)"
set ylabel "server CPU per heartbeat (us)"
set key top right
plot datafile using 1:5 with linespoints lw 2 pt 7 title "bare", \
     datafile using 1:6 with linespoints lw 2 pt 5 title "go", \
     datafile using 1:7 with linespoints lw 2 pt 9 title "lib"
unset multiplot
