package gossip

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// localityTagPrefix namespaces locality tiers among a member's serf tags, so that a tier
// named like another tag (say "sql") cannot collide with it.
const localityTagPrefix = "loc."

// ParseLocality parses a locality flag such as "region=us-east1,zone=a" into its tiers.
// Tiers are comma-separated key=value pairs; spaces around a key or value are ignored. A
// key is letters, digits, '-', '_' and '.'; a value is any printable characters other than
// spaces, ',' and '='. Keys must be unique. The empty string is the empty locality.
func ParseLocality(s string) (map[string]string, error) {
	loc := make(map[string]string)
	if strings.TrimSpace(s) == "" {
		return loc, nil
	}
	for i, tier := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(tier, "=")
		if !ok {
			if strings.TrimSpace(tier) == "" {
				return nil, fmt.Errorf("locality %q: tier %d is empty", s, i+1)
			}
			return nil, fmt.Errorf("locality %q: tier %q is not of the form key=value", s, strings.TrimSpace(tier))
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.Contains(v, "=") {
			return nil, fmt.Errorf("locality %q: tier %q has more than one '='", s, strings.TrimSpace(tier))
		}
		if err := validateTier(k, v); err != nil {
			return nil, fmt.Errorf("locality %q: %w", s, err)
		}
		if _, dup := loc[k]; dup {
			return nil, fmt.Errorf("locality %q: key %q appears more than once", s, k)
		}
		loc[k] = v
	}
	return loc, nil
}

// FormatLocality prints a locality as ParseLocality reads it, with keys in sorted order,
// e.g. "region=us-east1,zone=a". The empty locality prints as "".
func FormatLocality(loc map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(loc)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(loc[k])
	}
	return b.String()
}

// validateLocality checks that every tier of loc could be written by FormatLocality and read
// back by ParseLocality unchanged.
func validateLocality(loc map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(loc)) {
		if err := validateTier(k, loc[k]); err != nil {
			return err
		}
	}
	return nil
}

func validateTier(k, v string) error {
	if k == "" {
		return fmt.Errorf("tier %q has an empty key", k+"="+v)
	}
	if v == "" {
		return fmt.Errorf("tier %q has an empty value", k+"="+v)
	}
	for _, r := range k {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("key %q has the character %q; keys are letters, digits, '-', '_' and '.'", k, r)
		}
	}
	for _, r := range v {
		if r == ',' || r == '=' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("value %q of key %q has the character %q; values may not hold spaces, ',' or '='", v, k, r)
		}
	}
	return nil
}

// encodeTags merges a locality and the other tags into one serf tag set.
func encodeTags(locality, tags map[string]string) map[string]string {
	out := make(map[string]string, len(locality)+len(tags))
	for k, v := range tags {
		out[k] = v
	}
	for k, v := range locality {
		out[localityTagPrefix+k] = v
	}
	return out
}

// decodeTags splits a serf tag set into the locality and the other tags.
func decodeTags(all map[string]string) (locality, tags map[string]string) {
	locality, tags = make(map[string]string), make(map[string]string)
	for k, v := range all {
		if tier, ok := strings.CutPrefix(k, localityTagPrefix); ok {
			locality[tier] = v
		} else {
			tags[k] = v
		}
	}
	return locality, tags
}

// validateTags rejects tags that would be read back as locality tiers.
func validateTags(tags map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if strings.HasPrefix(k, localityTagPrefix) {
			return fmt.Errorf("tag %q: the %q prefix is reserved for locality tiers", k, localityTagPrefix)
		}
	}
	return nil
}
