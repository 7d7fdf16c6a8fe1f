{#- Keyed pseudonym of an address (an IP, or a Bitcoin peer_addr such as
    host:port, [ipv6]:port, x.onion:port): vars anon_mode (opaque | prefix),
    anon_keep_port and anon_key (env = $WIREHOUSE_ANON_KEY, test = the public
    Crypto-PAn sample key). The key itself never appears in SQL: the function
    (wirehouse/dbt_runtime/plugin.py) reads it from the environment. -#}
{% macro pseudonymise(addr) %}
    {%- set mode = var('anon_mode') -%}
    {%- if mode not in ['opaque', 'prefix'] -%}
        {{ exceptions.raise_compiler_error(
            "var anon_mode must be opaque or prefix, got " ~ mode
        ) }}
    {%- endif -%}
    wirehouse_pseudonym(
        {{ addr }},
        '{{ mode }}',
        {{ 'true' if var('anon_keep_port') else 'false' }},
        '{{ var("anon_key") }}'
    )
{%- endmacro %}
