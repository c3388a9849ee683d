package pull

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotFound: the remote has no such file (HTTP 404/410, ENOENT).
var ErrNotFound = errors.New("not found on the remote")

// Fetcher gets one file of a remote repository. path is relative to the
// repository root ("summary", "objects/ab/….filez"). The caller closes the
// reader. A missing file is an error wrapping ErrNotFound. Implementations
// must be safe for concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, path string) (io.ReadCloser, error)
}

// NewFetcher returns the fetcher for a remote URL: http://, https:// or
// file://.
func NewFetcher(rawURL string) (Fetcher, error) {
	return newFetcher(rawURL, HTTPOptions{})
}

func newFetcher(rawURL string, opts HTTPOptions) (Fetcher, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("remote url %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "http", "https":
		return NewHTTPFetcherOptions(rawURL, opts)
	case "file":
		return NewFileFetcher(u.Path), nil
	}
	return nil, fmt.Errorf("remote url %q: unsupported scheme %q", rawURL, u.Scheme)
}

// FileFetcher reads a repository in a local directory.
type FileFetcher struct{ dir string }

var _ Fetcher = (*FileFetcher)(nil)

// NewFileFetcher returns a Fetcher for the repository at dir.
func NewFileFetcher(dir string) *FileFetcher { return &FileFetcher{dir: dir} }

// Fetch opens dir/path.
func (f *FileFetcher) Fetch(ctx context.Context, path string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := os.Open(filepath.Join(f.dir, filepath.FromSlash(path)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return file, nil
}

// HTTPFetcher gets files over HTTP(S) with keep-alive connections, many in
// parallel to one host, retrying transient failures.
type HTTPFetcher struct {
	base    string // ends with "/"
	client  *http.Client
	retries int
}

var _ Fetcher = (*HTTPFetcher)(nil)

// HTTPOptions tune an HTTPFetcher.
type HTTPOptions struct {
	// TLSCAPath is a PEM file of CA certificates to trust instead of the
	// system's (the remote's tls-ca-path= setting).
	TLSCAPath string
}

// NewHTTPFetcher returns a Fetcher for the repository at base URL.
func NewHTTPFetcher(base string) *HTTPFetcher {
	h, _ := NewHTTPFetcherOptions(base, HTTPOptions{})
	return h
}

// NewHTTPFetcherOptions is NewHTTPFetcher with options; it fails only when
// the CA file cannot be read.
func NewHTTPFetcherOptions(base string, opts HTTPOptions) (*HTTPFetcher, error) {
	h := newHTTPFetcher(base)
	if opts.TLSCAPath != "" {
		pem, err := os.ReadFile(opts.TLSCAPath)
		if err != nil {
			return nil, fmt.Errorf("reading tls-ca-path: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-ca-path %s: no PEM certificates", opts.TLSCAPath)
		}
		h.client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return h, nil
}

func newHTTPFetcher(base string) *HTTPFetcher {
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 64, // one per worker, kept alive between objects
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 15 * time.Second,
		// Objects are already compressed; asking for gzip only costs CPU.
		DisableCompression:    true,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	return &HTTPFetcher{base: base, client: &http.Client{Transport: tr}, retries: 3}
}

// transientError marks failures worth retrying.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Fetch GETs base/path. 404 and 410 give ErrNotFound; 5xx, 408, 429 and
// network errors are retried with a short backoff.
func (h *HTTPFetcher) Fetch(ctx context.Context, path string) (io.ReadCloser, error) {
	var err error
	for attempt := 0; attempt <= h.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 100 * time.Millisecond):
			}
		}
		var body io.ReadCloser
		body, err = h.once(ctx, path)
		if err == nil {
			return body, nil
		}
		var te *transientError
		if !errors.As(err, &te) || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

func (h *HTTPFetcher) once(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) {
			return nil, fmt.Errorf("fetching %s: %w", path, err) // retrying cannot help
		}
		return nil, &transientError{fmt.Errorf("fetching %s: %w", path, err)}
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp.Body, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		drain(resp.Body)
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		drain(resp.Body)
		return nil, &transientError{fmt.Errorf("fetching %s: server said %s", path, resp.Status)}
	default:
		drain(resp.Body)
		return nil, fmt.Errorf("fetching %s: server said %s", path, resp.Status)
	}
}

// drain reads a little of an unwanted body so the connection can be reused.
func drain(r io.ReadCloser) {
	io.CopyN(io.Discard, r, 64<<10)
	r.Close()
}
