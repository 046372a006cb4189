package catalog

import "testing"

func TestPrettyKey(t *testing.T) {
	for _, tc := range []struct {
		key  []byte
		want string
	}{
		{namespaceKey(0, 0, "defaultdb"), `/System/namespace/0/0/"defaultdb"`},
		{namespaceKey(100, PublicSchemaID, "a\x00b"), `/System/namespace/100/1/"a\x00b"`},
		{descriptorKey(104), "/System/descriptor/104"},
		{idGeneratorKey, "/System/descriptor-id-generator"},
	} {
		if got, ok := PrettyKey(tc.key); !ok || got != tc.want {
			t.Errorf("PrettyKey(%q) = %s, %v; want %s", tc.key, got, ok, tc.want)
		}
	}
	for _, k := range [][]byte{nil, {0x03}, {0x03, 'd', 0, 0}, {0x03, 'n', 0}, {0x05, 0x89}} {
		if got, ok := PrettyKey(k); ok {
			t.Errorf("PrettyKey(%q) = %s: not a catalog key", k, got)
		}
	}
}
