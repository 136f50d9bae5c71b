package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// serveMain serves a directory as static files (the lab's package repositories) until SIGTERM or
// SIGINT. Directories are listed; nothing is written. One line a request goes to stderr.
func serveMain(args []string) error {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fl.String("listen", "", "ADDR:PORT to listen on")
	var roots stringList
	fl.Var(&roots, "root", "directory to serve (repeatable: a path is served from the first root that has it)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *listen == "" || len(roots) == 0 {
		return errors.New("-listen and -root are required")
	}
	var fs layeredFS
	for _, root := range roots {
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return fmt.Errorf("%s is not a directory", root)
		}
		fs = append(fs, http.Dir(root))
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "", log.LstdFlags|log.LUTC)
	files := http.FileServer(fs)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				http.Error(w, "read-only", http.StatusMethodNotAllowed)
				return
			}
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			files.ServeHTTP(rec, r)
			logger.Printf("%s %s %s %d", r.RemoteAddr, r.Method, r.URL.Path, rec.status)
		}),
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	logger.Printf("serving %s on http://%s/", roots.String(), ln.Addr())
	select {
	case err := <-done:
		return err
	case sig := <-stop:
		logger.Printf("%s: shutting down", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}
}

// layeredFS serves each path from the first of its file systems that has it; a directory lists
// the entries of every file system that has it.
type layeredFS []http.FileSystem

func (l layeredFS) Open(name string) (http.File, error) {
	var found []http.File
	var first error
	for _, fs := range l {
		f, err := fs.Open(name)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		st, err := f.Stat()
		if err != nil || !st.IsDir() {
			if len(found) == 0 {
				return f, err
			}
			f.Close()
			continue
		}
		found = append(found, f)
	}
	switch len(found) {
	case 0:
		return nil, first
	case 1:
		return found[0], nil
	}
	return &mergedDir{File: found[0], others: found[1:]}, nil
}

// mergedDir is a directory present in several roots: it lists the union, the first root winning.
type mergedDir struct {
	http.File
	others []http.File
}

func (m *mergedDir) Readdir(int) ([]os.FileInfo, error) {
	seen := map[string]bool{}
	var all []os.FileInfo
	for _, f := range append([]http.File{m.File}, m.others...) {
		entries, err := f.Readdir(-1)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				all = append(all, e)
			}
		}
	}
	return all, nil
}

func (m *mergedDir) Close() error {
	err := m.File.Close()
	for _, f := range m.others {
		err = errors.Join(err, f.Close())
	}
	return err
}

// freeportMain prints a TCP port on 127.0.0.1 that was free a moment ago.
func freeportMain() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
