{#- The leading columns shared by marts of one grain, typed once: each
    mart's final select starts with them, so they cannot drift apart. -#}

{#- A conversation (fct_connections' key and endpoints), from `alias` -#}
{% macro connection_key_columns(alias) -%}
    {{ alias }}.connection_id::string as connection_id,
    {{ alias }}.capture_id::string as capture_id,
    {{ alias }}.source_file::string as source_file,
    {{ alias }}.orig_addr::string as orig_addr,
    {{ alias }}.orig_port::integer as orig_port,
    {{ alias }}.resp_addr::string as resp_addr,
    {{ alias }}.resp_port::integer as resp_port,
    {{ alias }}.started_at::timestamp as started_at
{%- endmacro %}

{#- A Bitcoin peer connection (fct_peer_connections' key, the peer and
    when it was seen) -#}
{% macro peer_connection_key_columns() -%}
    connection_id::string as connection_id,
    node_id::string as node_id,
    node_run_id::integer as node_run_id,
    peer_id::bigint as peer_id,
    peer_addr::string as peer_addr,
    peer_host::string as peer_host,
    address_family::string as address_family,
    is_loopback::boolean as is_loopback,
    peer_conn_type::string as peer_conn_type,
    first_message_at::timestamp as first_message_at,
    last_message_at::timestamp as last_message_at,
    connection_seconds::bigint as connection_seconds
{%- endmacro %}
