package sql

import (
	"testing"

	"github.com/meridiandb/meridian/sql/catalog"
)

// TestSchemaOID checks that a created schema's namespace OID is its descriptor ID unless
// that would be a built-in namespace's, which no other schema may take.
func TestSchemaOID(t *testing.T) {
	builtin := map[uint32]bool{namespacePgCatalog: true, namespaceInfoSchema: true, namespaceToast: true, namespacePublic: true}
	if got := schemaOID(catalog.PublicSchemaID); got != namespacePublic {
		t.Errorf("public's OID is %d, want %d", got, namespacePublic)
	}
	for _, id := range []uint32{catalog.FirstUserID, 2199, 2201, 1 << 20} {
		if got := schemaOID(id); got != id {
			t.Errorf("schemaOID(%d) = %d, want the ID itself", id, got)
		}
	}
	for id := range builtin {
		if got := schemaOID(id); builtin[got] || got == id {
			t.Errorf("schemaOID(%d) = %d, a built-in namespace's OID", id, got)
		}
	}
}
