// Package labels is how a Berth container's facts are written into engine
// labels and read back. Labels are the engine-side record of everything Berth
// knows about a container, so both drivers share this one encoding.
package labels

import (
	"strings"
	"time"

	"berth/driver"
)

// Label keys. Everything Berth creates carries Instance and Kind.
const (
	Instance    = "berth.instance"
	Kind        = "berth.kind" // KindContainer or KindService
	Owner       = "berth.owner"
	Name        = "berth.name"
	Image       = "berth.image"
	Created     = "berth.created"
	IdleTimeout = "berth.idle-timeout"
	CheckinHash = "berth.checkin-hash"
	UserPrefix  = "berth.label." // user metadata: berth.label.<key>

	// A service, and its replicas (which are not containers to the API).
	Service    = "berth.service"    // on a replica: its service's name
	Generation = "berth.generation" // on a replica: the definition it runs
	Updated    = "berth.updated"

	// Activity, where labels can change (swarm services).
	LastActivity = "berth.last-activity"
	CheckedIn    = "berth.checked-in"
	Active       = "berth.active"
)

// Kinds of objects.
const (
	KindContainer = "container" // a Berth container
	KindService   = "service"   // a named service, or one of its replicas
)

// Encode returns the labels that record spec for instance, created at created.
func Encode(instance string, spec *driver.Spec, created time.Time) map[string]string {
	l := map[string]string{
		Instance:    instance,
		Kind:        KindContainer,
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
	c.LastActivity, _ = time.Parse(time.RFC3339Nano, l[LastActivity])
	c.CheckedInAt, _ = time.Parse(time.RFC3339Nano, l[CheckedIn])
	c.Active = l[Active] == "1"
	for k, v := range l {
		if key, ok := strings.CutPrefix(k, UserPrefix); ok {
			c.Labels[key] = v
		}
	}
	return c
}

// Selectors returns the "key=value" label constraints that select instance's
// objects of kind matching f (except f.State, which engines filter
// differently).
func Selectors(instance, kind string, f driver.Filter) []string {
	s := []string{Instance + "=" + instance, Kind + "=" + kind}
	if f.Owner != "" {
		s = append(s, Owner+"="+f.Owner)
	}
	for k, v := range f.Labels {
		s = append(s, UserPrefix+k+"="+v)
	}
	return s
}

// RecordActivity writes a check-in into l, as driver.Driver.RecordActivity
// describes: the check-in time and state always, the last activity when
// the check-in reports activity.
func RecordActivity(l map[string]string, a driver.Activity) {
	l[CheckedIn] = a.At.UTC().Format(time.RFC3339Nano)
	l[Active] = "0"
	if a.Active {
		l[Active] = "1"
		l[LastActivity] = l[CheckedIn]
	}
}

// RecordStart writes a start into l: it counts as activity, and the
// container has no active connections yet.
func RecordStart(l map[string]string, at time.Time) {
	l[LastActivity] = at.UTC().Format(time.RFC3339Nano)
	l[Active] = "0"
}

// EncodeService returns the labels that record a service's facts.
func EncodeService(instance string, spec *driver.ServiceSpec, created, updated time.Time) map[string]string {
	return map[string]string{
		Instance: instance,
		Kind:     KindService,
		Owner:    spec.Owner,
		Name:     spec.Name,
		Image:    spec.Image,
		Created:  created.UTC().Format(time.RFC3339Nano),
		Updated:  updated.UTC().Format(time.RFC3339Nano),
	}
}

// DecodeService fills the label-borne fields of a Service from l.
func DecodeService(l map[string]string) *driver.Service {
	s := &driver.Service{Name: l[Name], Owner: l[Owner], Image: l[Image]}
	s.CreatedAt, _ = time.Parse(time.RFC3339Nano, l[Created])
	s.UpdatedAt, _ = time.Parse(time.RFC3339Nano, l[Updated])
	return s
}
