package history

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Defaults of Fetcher.
const (
	DefaultAPI      = "https://api.github.com"
	DefaultWorkflow = "bench.yml"
	DefaultArtifact = "bench-results"
	DefaultBranch   = "main"
	// MaxResultsBytes bounds one unpacked results.json (a pr run's is
	// about 3 MB).
	MaxResultsBytes = 256 << 20
)

// ErrFetch is returned (wrapped) when the GitHub API refuses or answers
// something unexpected.
var ErrFetch = errors.New("history: fetch")

// Fetcher downloads the results.json of a branch's benchmark runs from
// GitHub Actions artifacts. It asks the REST API for the workflow's runs of
// push events on the branch (never filtering by event afterwards), keeps
// the runs of this repository (not a fork's branch of the same name), and
// downloads each run's artifact. The zero values of the fields are the
// defaults said on them; Repo and Token are required.
type Fetcher struct {
	// API is the REST API's base URL. If empty, $GITHUB_API_URL's default,
	// DefaultAPI.
	API string
	// Repo is "owner/name".
	Repo string
	// Token is a token that may read the repository's actions
	// (GITHUB_TOKEN with actions: read).
	Token string
	// Workflow is the workflow file of the benchmark. If empty,
	// DefaultWorkflow.
	Workflow string
	// Artifact is the artifact name. If empty, DefaultArtifact.
	Artifact string
	// Branch is the branch. If empty, DefaultBranch.
	Branch string
	// Client is the HTTP client. If nil, http.DefaultClient.
	Client *http.Client
}

type workflowRun struct {
	ID             int64  `json:"id"`
	HeadSHA        string `json:"head_sha"`
	HeadRepository struct {
		FullName string `json:"full_name"`
	} `json:"head_repository"`
}

type artifact struct {
	ID                 int64  `json:"id"`
	Name               string `json:"name"`
	Expired            bool   `json:"expired"`
	ArchiveDownloadURL string `json:"archive_download_url"`
}

// Fetch writes the results.json of the last n completed runs that kept the
// artifact, among the latest 100 runs (one page), into
// dir/run-<id>/results.json and returns the files, newest first. Runs
// without the artifact (failed early, or expired) are skipped.
func (f Fetcher) Fetch(ctx context.Context, dir string, n int) ([]string, error) {
	if f.Repo == "" || f.Token == "" {
		return nil, fmt.Errorf("%w: a repository (owner/name) and a token are needed", ErrFetch)
	}
	if n < 1 || n > 100 {
		return nil, fmt.Errorf("%w: %d runs asked; 1 to 100", ErrFetch, n)
	}
	api := strings.TrimRight(cmp.Or(f.API, DefaultAPI), "/")
	q := url.Values{
		"branch":   {cmp.Or(f.Branch, DefaultBranch)},
		"event":    {"push"},
		"status":   {"completed"},
		"per_page": {"100"},
	}
	var runs struct {
		WorkflowRuns []workflowRun `json:"workflow_runs"`
	}
	u := fmt.Sprintf("%s/repos/%s/actions/workflows/%s/runs?%s", api, f.Repo, url.PathEscape(cmp.Or(f.Workflow, DefaultWorkflow)), q.Encode())
	if err := f.getJSON(ctx, u, &runs); err != nil {
		return nil, err
	}
	var files []string
	for _, r := range runs.WorkflowRuns {
		if len(files) == n {
			break
		}
		if r.HeadRepository.FullName != f.Repo {
			continue
		}
		var arts struct {
			Artifacts []artifact `json:"artifacts"`
		}
		u := fmt.Sprintf("%s/repos/%s/actions/runs/%d/artifacts?%s", api, f.Repo, r.ID, url.Values{"name": {cmp.Or(f.Artifact, DefaultArtifact)}}.Encode())
		if err := f.getJSON(ctx, u, &arts); err != nil {
			return files, err
		}
		for _, a := range arts.Artifacts {
			if a.Expired || a.Name != cmp.Or(f.Artifact, DefaultArtifact) {
				continue
			}
			out := filepath.Join(dir, fmt.Sprintf("run-%d", r.ID), ResultsName)
			if err := f.download(ctx, a.ArchiveDownloadURL, out); err != nil {
				return files, fmt.Errorf("run %d (%s): %w", r.ID, short(r.HeadSHA), err)
			}
			files = append(files, out)
			break
		}
	}
	return files, nil
}

func (f Fetcher) get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Authorization", "Bearer "+f.Token)
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	// The zip's URL redirects to storage on another host; net/http drops
	// the Authorization header on such a redirect, as GitHub expects.
	resp, err := cmp.Or(f.Client, http.DefaultClient).Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrFetch, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("%w: GET %s: %s: %s", ErrFetch, u, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

func (f Fetcher) getJSON(ctx context.Context, u string, v any) error {
	resp, err := f.get(ctx, u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrFetch, u, err)
	}
	return nil
}

// download unpacks the artifact zip's results.json to out. Only that entry
// is read, by its base name, so no path in the zip can write elsewhere.
func (f Fetcher) download(ctx context.Context, u, out string) error {
	resp, err := f.get(ctx, u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResultsBytes))
	if err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrFetch, u, err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return fmt.Errorf("%w: artifact is not a zip: %v", ErrFetch, err)
	}
	for _, e := range zr.File {
		if path.Base(e.Name) != ResultsName {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrFetch, e.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, MaxResultsBytes))
		rc.Close()
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrFetch, e.Name, err)
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w: artifact has no %s", ErrFetch, ResultsName)
}
