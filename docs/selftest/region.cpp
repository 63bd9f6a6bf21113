// A fixture for docs.snippets_selftest (never compiled): one region, indented as in a function.
void f() {
    // begin-snippet: body
    int a = 1;
    int b = a + 1;
    // end-snippet: body
}
