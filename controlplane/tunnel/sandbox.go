package tunnel

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Pages from a head node run sandboxed (an opaque origin), where reading
// localStorage, sessionStorage or document.cookie throws. Ray's dashboard
// reads all three, and would stop with a blank page; storageShim, put at
// the top of every HTML page, gives it in-memory stand-ins that last as
// long as the page.
const storageShim = `<script>/* idlegrid: sandboxed page, in-memory storage */(function(){` +
	`function S(){var m=new Map();return{getItem:function(k){k=String(k);return m.has(k)?m.get(k):null},` +
	`setItem:function(k,v){m.set(String(k),String(v))},removeItem:function(k){m.delete(String(k))},clear:function(){m.clear()},` +
	`key:function(i){var a=Array.from(m.keys());return i<a.length?a[i]:null},get length(){return m.size}}}` +
	`["localStorage","sessionStorage"].forEach(function(n){Object.defineProperty(window,n,{value:S(),configurable:true})});` +
	`Object.defineProperty(document,"cookie",{get:function(){return ""},set:function(){},configurable:true})})();</script>`

// maxShimmed is the largest HTML page the shim is put into; bigger pages
// (not Ray's) pass unchanged.
const maxShimmed = 4 << 20

// sandbox makes a head's answer safe to serve on the control plane's site:
// its pages run in an origin of their own, so their scripts can never act
// with the requester's session; the dashboard's API calls cross that
// origin, hence the CORS header (the capability in the URL guards it).
func sandbox(resp *http.Response) error {
	resp.Header.Del("Set-Cookie")
	resp.Header.Set("Content-Security-Policy", "sandbox allow-scripts allow-forms allow-popups allow-downloads")
	resp.Header.Set("Access-Control-Allow-Origin", "*")
	resp.Header.Set("Referrer-Policy", "no-referrer")
	resp.Header.Set("X-Content-Type-Options", "nosniff")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || resp.Header.Get("Content-Encoding") != "" {
		return nil
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, maxShimmed+1))
	if err != nil {
		return err
	}
	if len(page) > maxShimmed {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(page), resp.Body), resp.Body}
		return nil
	}
	resp.Body.Close()
	at := 0
	if i := bytes.Index(bytes.ToLower(page), []byte("<head>")); i >= 0 {
		at = i + len("<head>")
	}
	out := make([]byte, 0, len(page)+len(storageShim))
	out = append(append(append(out, page[:at]...), storageShim...), page[at:]...)
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}
