// objstore emulates OCI Object Storage for the lab: the PAR data path the nodes use (put, get,
// head, list), an admin API with OCI's paths for what the Pulumi program creates (buckets, PARs,
// replication and lifecycle policies), per-region endpoints, and asynchronous, unordered
// cross-region replication into read-only replicas. README.md says what is modelled and what not.
//
//	objstore -config lab-objstore.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func removeAll(path string) error { return os.RemoveAll(path) }

type endpoint struct {
	region  string
	address string
}

func (c *Config) endpoints() []endpoint {
	var out []endpoint
	for _, address := range c.Listen {
		out = append(out, endpoint{"", address})
	}
	for _, region := range c.Regions {
		for _, address := range region.Listen {
			out = append(out, endpoint{region.Name, address})
		}
	}
	return out
}

func main() {
	configPath := flag.String("config", "", "path of the emulator's JSON config")
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "objstore: -config is required; see lab/objstore/README.md")
		os.Exit(2)
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "objstore:", err)
		os.Exit(2)
	}
	token, err := readToken(cfg.AdminTokenFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "objstore:", err)
		os.Exit(2)
	}
	store, err := NewStore(cfg, time.Now)
	if err != nil {
		fmt.Fprintln(os.Stderr, "objstore:", err)
		os.Exit(1)
	}
	srv := NewServer(store, token)

	var servers []*http.Server
	var wg sync.WaitGroup
	for _, e := range cfg.endpoints() {
		listener, err := net.Listen("tcp", e.address)
		if err != nil {
			fmt.Fprintf(os.Stderr, "objstore: cannot listen on %s (%v); is another emulator running?\n", e.address, err)
			os.Exit(1)
		}
		server := &http.Server{Handler: srv.Handler(e.region), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, server)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Printf("serve %s: %v", e.address, err)
			}
		}()
		if e.region == "" {
			log.Printf("listening on %s", e.address)
		} else {
			log.Printf("listening on %s (region %s)", e.address, e.region)
		}
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, server := range servers {
		_ = server.Shutdown(ctx)
	}
	wg.Wait()
	store.Close()
}
