package components

import (
	"context"

	"gifchat/i18n"
)

// t puts a catalog message into the language the component is rendered in (the context's:
// the request's on pages, each language present in the room for live fragments).
func t(ctx context.Context, id string, kv ...any) string { return i18n.T(ctx, id, kv...) }

// lang is the language the component is rendered in.
func lang(ctx context.Context) i18n.Lang { return i18n.From(ctx) }

// langSwitchURL is the switch's link to a language.
func langSwitchURL(l i18n.Lang) string { return "/lang?to=" + l.Code() }
