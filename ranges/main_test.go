package ranges_test

import (
	"testing"

	"github.com/meridiandb/meridian/internal/invariants"
)

func TestMain(m *testing.M) { invariants.Main(m) }
