{#- Network-order bytes of a text IP address as lowercase hex (8 characters for
    IPv4, 32 for IPv6). IPv6 '::' is expanded; addresses are expected in the
    form the pcap reader writes (RFC 5952, no embedded dotted quad). The list
    functions differ by engine (DuckDB list_*, Spark's higher-order
    functions), the steps do not. -#}
{% macro ip_address_hex(addr) %}
    {{- return(adapter.dispatch('ip_address_hex', 'wirehouse')(addr)) -}}
{% endmacro %}

{% macro default__ip_address_hex(addr) %}
    case
        when {{ addr }} like '%:%' then array_to_string(
            list_transform(
                string_split(
                    trim(
                        replace(
                            lower({{ addr }}),
                            '::',
                            ':' || repeat(
                                '0:',
                                8 - len(
                                    list_filter(
                                        string_split({{ addr }}, ':'),
                                        lambda g: g != ''
                                    )
                                )
                            )
                        ),
                        ':'
                    ),
                    ':'
                ),
                lambda g: lpad(g, 4, '0')
            ),
            ''
        )
        else array_to_string(
            list_transform(
                string_split({{ addr }}, '.'),
                lambda o: printf('%02x', o::integer)
            ),
            ''
        )
    end
{% endmacro %}

{#- split takes a regex on Spark: '[.]' is a dot -#}
{% macro spark__ip_address_hex(addr) %}
    case
        when {{ addr }} like '%:%' then array_join(
            transform(
                split(
                    btrim(
                        replace(
                            lower({{ addr }}),
                            '::',
                            ':' || repeat(
                                '0:',
                                8 - size(
                                    filter(split({{ addr }}, ':'), g -> g != '')
                                )
                            )
                        ),
                        ':'
                    ),
                    ':'
                ),
                g -> lpad(g, 4, '0')
            ),
            ''
        )
        else array_join(
            transform(
                split({{ addr }}, '[.]'),
                o -> printf('%02x', cast(o as integer))
            ),
            ''
        )
    end
{% endmacro %}
