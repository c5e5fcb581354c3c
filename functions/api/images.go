package api

import (
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/distribution/reference"
)

// normalizeImage parses an image reference as the engine would and returns
// its familiar form with the tag made explicit ("python" → "python:latest").
func normalizeImage(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "image %q is not a valid image reference", ref)
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), nil
}

// allowedImage normalizes ref and checks it against the allowlist.
func (a *API) allowedImage(ref string) (string, error) {
	image, err := normalizeImage(ref)
	if err != nil {
		return "", err
	}
	if !allowed(a.cfg.Images, image) {
		return "", errorf(http.StatusForbidden, "image %q is not allowed here", image)
	}
	return image, nil
}

// hasVersion reports whether ref names a tag or a digest explicitly.
func hasVersion(ref string) bool {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	_, tagged := named.(reference.Tagged)
	_, digested := named.(reference.Digested)
	return tagged || digested
}

// allowed reports whether the normalized image ref matches one of patterns.
// A pattern is repo[:tag] or repo@digest with path.Match wildcards, where *
// stays within one path segment; a pattern without a tag allows every tag
// and digest of the repository; "*" alone allows every image.
func allowed(patterns []string, ref string) bool {
	repo, version := splitRef(ref)
	for _, p := range patterns {
		if p == "*" {
			return true
		}
		prepo, pversion := splitRef(p)
		if pversion == "" {
			pversion = "*"
		}
		if ok, _ := path.Match(prepo, repo); !ok {
			continue
		}
		if ok, _ := path.Match(pversion, version); ok {
			return true
		}
	}
	return false
}

// splitRef splits "repo:tag" or "repo@digest" into the repository and the
// tag or digest. The tag's colon is the last one after the last slash, so a
// registry port ("host:5000/repo") stays in the repository.
func splitRef(ref string) (repo, version string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// validPattern checks one BERTH_IMAGES pattern.
func validPattern(p string) error {
	if p == "*" {
		return nil
	}
	repo, version := splitRef(p)
	if repo == "" {
		return fmt.Errorf("pattern %q has no repository", p)
	}
	for _, part := range []string{repo, version} {
		if _, err := path.Match(part, ""); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	return nil
}

func handleListImages(a *API) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refs, err := a.driver.Images(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := []string{}
		for _, ref := range refs {
			if norm, err := normalizeImage(ref); err == nil && allowed(a.cfg.Images, norm) {
				out = append(out, ref)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}
