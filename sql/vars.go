package sql

import "github.com/meridiandb/meridian/sql/types"

func (s *Session) typeSettings() *types.Settings { return types.DefaultSettings }

func encodingName(name string) (string, bool) { return "UTF8", true }
