// Rating links: a person's click submits the chosen score at once; mail scanners that only fetch the page change nothing.
document.querySelector('form[data-auto-submit]')?.submit();
