package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
)

// principal is who a request acts for.
type principal struct {
	ID    string // "admin", or a user ID
	Admin bool
}

// adminID owns the containers the admin creates.
const adminID = "admin"

// Token formats. The prefixes keep the kinds apart: a check-in token is never
// a user token, and neither is an admin token.
const (
	userTokenPrefix    = "berth_u_"
	checkinTokenPrefix = "berth_c_"
)

var userID = regexp.MustCompile(`^u[0-9a-f]{20}$`)

// authenticate returns the principal r's credentials prove: a bearer token
// (admin or user), or HTTP Basic admin:<admin token> for spin-docker clients.
func (a *API) authenticate(r *http.Request) (principal, bool) {
	if user, pass, ok := r.BasicAuth(); ok {
		return principal{ID: adminID, Admin: true}, user == "admin" && a.isAdminToken(pass)
	}
	token, ok := bearer(r)
	if !ok {
		return principal{}, false
	}
	if a.isAdminToken(token) {
		return principal{ID: adminID, Admin: true}, true
	}
	if id, ok := a.verifyUserToken(token); ok {
		return principal{ID: id}, true
	}
	return principal{}, false
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// isAdminToken compares in constant time; hashing first keeps the token's
// length from showing either.
func (a *API) isAdminToken(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], a.adminHash[:]) == 1
}

// newUser makes a user ID and its token: the ID signed with the secret.
// Tokens are stateless; nothing is stored.
func (a *API) newUser() (id, token string) {
	return a.userToken("u" + randomHex(10))
}

func (a *API) userToken(id string) (string, string) {
	return id, userTokenPrefix + id + "." + a.sign("user:"+id)
}

func (a *API) verifyUserToken(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, userTokenPrefix)
	if !ok {
		return "", false
	}
	id, sig, ok := strings.Cut(rest, ".")
	if !ok || !userID.MatchString(id) {
		return "", false
	}
	return id, hmac.Equal([]byte(sig), []byte(a.sign("user:"+id)))
}

func (a *API) sign(msg string) string {
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// newCheckinToken returns a container's check-in token and the hash of its
// secret, which is all Berth keeps. The token names the container so that a
// check-in costs one lookup.
func newCheckinToken(name string) (token, hash string) {
	secret := randomHex(32)
	sum := sha256.Sum256([]byte(secret))
	return checkinTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(name)) + "." + secret, hex.EncodeToString(sum[:])
}

// parseCheckinToken returns the container name a check-in token names and
// the hash of its secret.
func parseCheckinToken(token string) (name, hash string, ok bool) {
	rest, ok := strings.CutPrefix(token, checkinTokenPrefix)
	if !ok {
		return "", "", false
	}
	encName, secret, ok := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(encName)
	if !ok || err != nil || !validName.Match(raw) {
		return "", "", false
	}
	sum := sha256.Sum256([]byte(secret))
	return string(raw), hex.EncodeToString(sum[:]), true
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics rather than return short
	return hex.EncodeToString(b)
}
