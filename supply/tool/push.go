package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// pushMain pushes every image of an OCI layout to a registry, over plain HTTP, with the
// distribution API: blobs by monolithic upload (skipped when the registry has them), then the
// manifest under its tag. The registry must answer the manifest with the same digest.
func pushMain(args []string) error {
	fl := flag.NewFlagSet("push", flag.ContinueOnError)
	layoutDir := fl.String("layout", "", "OCI image layout whose images to push")
	registry := fl.String("registry", "", "registry HOST:PORT (plain HTTP)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *layoutDir == "" || *registry == "" {
		return errors.New("-layout and -registry are required")
	}
	l, err := openLayout(*layoutDir, false)
	if err != nil {
		return err
	}
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	p := &pusher{base: "http://" + *registry, client: &http.Client{Timeout: 5 * time.Minute}, layout: l}
	for _, d := range idx.Manifests {
		ref := d.Annotations[annotationRefName]
		repo, tag, err := splitRef(ref)
		if err != nil {
			return err
		}
		if err := p.pushImage(repo, tag, d); err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		fmt.Printf("pushed %s/%s:%s %s\n", *registry, repo, tag, d.Digest)
	}
	return nil
}

type pusher struct {
	base   string
	client *http.Client
	layout *layout
}

func (p *pusher) pushImage(repo, tag string, d descriptor) error {
	raw, err := p.layout.readBlob(d)
	if err != nil {
		return err
	}
	var m manifest
	if err := jsonUnmarshal(raw, &m); err != nil {
		return err
	}
	for _, blob := range append([]descriptor{m.Config}, m.Layers...) {
		if err := p.pushBlob(repo, blob); err != nil {
			return err
		}
	}
	req, err := http.NewRequest(http.MethodPut, p.base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", d.MediaType)
	resp, err := p.do(req, http.StatusCreated)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != d.Digest {
		return fmt.Errorf("registry stored the manifest as %q, expected %s", got, d.Digest)
	}
	return nil
}

func (p *pusher) pushBlob(repo string, d descriptor) error {
	head, err := http.NewRequest(http.MethodHead, p.base+"/v2/"+repo+"/blobs/"+d.Digest, nil)
	if err != nil {
		return err
	}
	if resp, err := p.client.Do(head); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	start, err := http.NewRequest(http.MethodPost, p.base+"/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		return err
	}
	resp, err := p.do(start, http.StatusAccepted)
	if err != nil {
		return fmt.Errorf("starting the upload of %s: %w", d.Digest, err)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		return fmt.Errorf("registry gave no upload location for %s", d.Digest)
	}
	base, _ := url.Parse(p.base + "/")
	loc = base.ResolveReference(loc)
	q := loc.Query()
	q.Set("digest", d.Digest)
	loc.RawQuery = q.Encode()
	f, err := os.Open(p.layout.blobPath(d.Digest))
	if err != nil {
		return err
	}
	defer f.Close()
	put, err := http.NewRequest(http.MethodPut, loc.String(), f)
	if err != nil {
		return err
	}
	put.ContentLength = d.Size
	put.Header.Set("Content-Type", "application/octet-stream")
	if _, err := p.do(put, http.StatusCreated); err != nil {
		return fmt.Errorf("uploading %s: %w", d.Digest, err)
	}
	return nil
}

// do sends a request and fails unless the registry answers with the expected status.
func (p *pusher) do(req *http.Request, want int) (*http.Response, error) {
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(body))
	}
	return resp, nil
}
