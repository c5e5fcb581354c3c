// Package labels is how a Berth container's facts are written into engine
// labels and read back. Labels are the engine-side record of everything Berth
// knows about a container, so both drivers share this one encoding.
package labels

import (
	"strings"
	"time"

	"berth/driver"
)

// Label keys. Everything Berth creates carries Instance.
const (
	Instance    = "berth.instance"
	Owner       = "berth.owner"
	Name        = "berth.name"
	Image       = "berth.image"
	Created     = "berth.created"
	IdleTimeout = "berth.idle-timeout"
	CheckinHash = "berth.checkin-hash"
	UserPrefix  = "berth.label." // user metadata: berth.label.<key>
)

// Encode returns the labels that record spec for instance, created at created.
func Encode(instance string, spec *driver.Spec, created time.Time) map[string]string {
	l := map[string]string{
		Instance:    instance,
		Owner:       spec.Owner,
		Name:        spec.Name,
		Image:       spec.Image,
		Created:     created.UTC().Format(time.RFC3339Nano),
		CheckinHash: spec.CheckinHash,
	}
	if spec.IdleTimeout > 0 {
		l[IdleTimeout] = spec.IdleTimeout.String()
	}
	for k, v := range spec.Labels {
		l[UserPrefix+k] = v
	}
	return l
}

// Decode fills the label-borne fields of a Container from l. Malformed
// values decode as zero values: labels are ours, but the engine lets anyone
// with access edit a container's config.
func Decode(l map[string]string) *driver.Container {
	c := &driver.Container{
		Name:        l[Name],
		Owner:       l[Owner],
		Image:       l[Image],
		CheckinHash: l[CheckinHash],
		Labels:      map[string]string{},
	}
	c.CreatedAt, _ = time.Parse(time.RFC3339Nano, l[Created])
	c.IdleTimeout, _ = time.ParseDuration(l[IdleTimeout])
	for k, v := range l {
		if key, ok := strings.CutPrefix(k, UserPrefix); ok {
			c.Labels[key] = v
		}
	}
	return c
}

// Selectors returns the "key=value" label constraints that select instance's
// containers matching f (except f.State, which engines filter differently).
func Selectors(instance string, f driver.Filter) []string {
	s := []string{Instance + "=" + instance}
	if f.Owner != "" {
		s = append(s, Owner+"="+f.Owner)
	}
	for k, v := range f.Labels {
		s = append(s, UserPrefix+k+"="+v)
	}
	return s
}
