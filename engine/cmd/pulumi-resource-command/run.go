package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"etcd-dr/engine/internal/pluginkit"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// runSpec is what a local or remote run needs besides where it runs.
type runSpec struct {
	script         string
	environment    map[string]string
	stdin          *string
	logging        *string
	previousStdout string
	previousStderr string
	log            *pluginkit.Logger
}

type commandResult struct {
	stdout string
	stderr string
}

func (r commandResult) store(outputs resource.PropertyMap) {
	outputs["stdout"] = resource.NewStringProperty(r.stdout)
	outputs["stderr"] = resource.NewStringProperty(r.stderr)
}

// `logging` as upstream reads it: absent means both streams go to the update's log.
func logsStdout(logging *string) bool {
	return logging == nil || *logging == "stdout" || *logging == "stdoutAndStderr"
}

func logsStderr(logging *string) bool {
	return logging == nil || *logging == "stderr" || *logging == "stdoutAndStderr"
}

// capture collects a run's output the way upstream does: stdout and stderr each on their own, both
// interleaved for the error message, and the logged streams line by line to the engine as status
// messages of the resource (which is how they reach the console and CI logs).
type capture struct {
	stdout, stderr bytes.Buffer
	combined       lockedBuffer
	lines          *lineLogger
}

func newCapture(spec runSpec) *capture {
	return &capture{lines: &lineLogger{log: spec.log}}
}

func (c *capture) writers(logging *string) (io.Writer, io.Writer) {
	stdout := []io.Writer{&c.stdout, &c.combined}
	if logsStdout(logging) {
		stdout = append(stdout, c.lines)
	}
	stderr := []io.Writer{&c.stderr, &c.combined}
	if logsStderr(logging) {
		stderr = append(stderr, c.lines)
	}
	return io.MultiWriter(stdout...), io.MultiWriter(stderr...)
}

// finish flushes the log and turns the outcome into upstream's result or error text:
// `<error>: running "<script>":\n<stdout and stderr>`.
func (c *capture) finish(script string, err error) (commandResult, error) {
	c.lines.flush()
	if err != nil {
		return commandResult{}, fmt.Errorf("%w: running %q:\n%s", err, script, c.combined.String())
	}
	// Only one trailing newline goes, as upstream's strings.TrimSuffix(out, "\n").
	return commandResult{
		stdout: strings.TrimSuffix(c.stdout.String(), "\n"),
		stderr: strings.TrimSuffix(c.stderr.String(), "\n"),
	}, nil
}

// lockedBuffer takes writes from the stdout and stderr copiers at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineLogger sends each complete line as one status message, as upstream's bufio.Scanner loop does
// (a trailing "\r" is dropped with the newline; a last line without newline goes out at the end).
// Unlike upstream it never stops reading: upstream's scanner gives up on a line over 64 KiB and the
// command then hangs on a full pipe.
type lineLogger struct {
	mu      sync.Mutex
	log     *pluginkit.Logger
	partial []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.log.InfoStatus(strings.TrimSuffix(string(l.partial[:i]), "\r"))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.log.InfoStatus(strings.TrimSuffix(string(l.partial), "\r"))
		l.partial = nil
	}
}
