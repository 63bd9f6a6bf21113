// go_server: the same line echo server in the well-known Go design: a goroutine per
// connection, conn.SetReadDeadline(time.Now().Add(timeout)) before every read, a bufio.Reader
// cutting lines, "PING" answered with "PONG", other lines echoed; replies gathered while more
// input is buffered and written when the reader runs dry. Standard library only.
//
//	go_server --port P --timeout-ms T [--log-ends FILE]
//
// With --port 0 it prints the chosen port on stdout once it accepts. --log-ends writes one line
// per closed connection: "<peer-port> <ms since its last byte> <reason>".
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

var (
	timeout time.Duration
	logMu   sync.Mutex
	logFile *os.File
)

func logEnd(port int, last time.Time, reason string) {
	if logFile == nil {
		return
	}
	ms := float64(time.Since(last).Nanoseconds()) / 1e6
	logMu.Lock()
	fmt.Fprintf(logFile, "%d %.3f %s\n", port, ms, reason)
	logMu.Unlock()
}

func handle(c net.Conn) {
	defer c.Close()
	port := c.RemoteAddr().(*net.TCPAddr).Port
	r := bufio.NewReader(c)
	var out []byte
	last := time.Now()
	for {
		c.SetReadDeadline(time.Now().Add(timeout))
		line, err := r.ReadSlice('\n')
		if err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				logEnd(port, last, "timeout")
			case err == io.EOF:
				logEnd(port, last, "eof")
			case err == bufio.ErrBufferFull:
				logEnd(port, last, "too_long")
			default:
				logEnd(port, last, "error")
			}
			return
		}
		last = time.Now()
		body := line[:len(line)-1]
		if n := len(body); n > 0 && body[n-1] == '\r' {
			body = body[:n-1]
		}
		switch string(body) {
		case "PING":
			out = append(out, "PONG\n"...)
		case "PONG":
		default:
			out = append(out, line...)
		}
		if r.Buffered() == 0 && len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				logEnd(port, last, "write_error")
				return
			}
			out = out[:0]
		}
	}
}

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0: any, printed on stdout)")
	timeoutMs := flag.Int("timeout-ms", 3000, "read deadline in milliseconds")
	logEnds := flag.String("log-ends", "", "file to log each closed connection to")
	flag.Parse()
	timeout = time.Duration(*timeoutMs) * time.Millisecond
	if *logEnds != "" {
		f, err := os.Create(*logEnds)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		logFile = f
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *port == 0 {
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go handle(c)
	}
}
