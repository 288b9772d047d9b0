"""How a run reads: terminal tables (`terminal`), figures (`plots`, matplotlib, imported only
when asked) and a self-contained HTML report (`html`)."""
