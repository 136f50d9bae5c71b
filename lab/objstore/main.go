// objstore emulates the part of the OCI Object Storage API that etcd-dr's nodes use: requests
// through pre-authenticated request (PAR) URLs to put, get, head and list objects, with the PAR's
// access type, prefix and expiry enforced, and asynchronous cross-region replication into a
// read-only replica bucket. The lab runs it on the host side of its bridges.
//
//	objstore -config lab-objstore.json
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
	"sync"
	"syscall"
	"time"
)

// Config is the emulator's whole world: buckets, PARs and replication rules.
type Config struct {
	Listen      []string      `json:"listen"`
	DataDir     string        `json:"dataDir"`
	Buckets     []BucketSpec  `json:"buckets"`
	PARs        []PARSpec     `json:"pars"`
	Replication []Replication `json:"replication"`
}

type BucketSpec struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Region    string `json:"region"`
}

type PARSpec struct {
	ID         string `json:"id"`
	Bucket     string `json:"bucket"`
	AccessType string `json:"accessType"`
	Listing    bool   `json:"listing"`
	Prefix     string `json:"prefix"`
	Expires    string `json:"expires"`
}

type Replication struct {
	Source      string  `json:"source"`
	Destination string  `json:"destination"`
	LagSeconds  float64 `json:"lagSeconds"`
}

func loadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(cfg.Listen) == 0 || cfg.DataDir == "" {
		return nil, errors.New("config needs listen addresses and a dataDir")
	}
	return &cfg, nil
}

func main() {
	configPath := flag.String("config", "", "path of the emulator's JSON config")
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "objstore: -config is required")
		os.Exit(2)
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "objstore:", err)
		os.Exit(2)
	}
	store, err := NewStore(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "objstore:", err)
		os.Exit(1)
	}
	store.ReconcileReplicas()

	handler := NewHandler(store, time.Now)
	var servers []*http.Server
	var wg sync.WaitGroup
	for _, address := range cfg.Listen {
		listener, err := net.Listen("tcp", address)
		if err != nil {
			fmt.Fprintf(os.Stderr, "objstore: listen %s: %v\n", address, err)
			os.Exit(1)
		}
		server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, server)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Printf("serve %s: %v", address, err)
			}
		}()
		log.Printf("listening on %s", address)
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
