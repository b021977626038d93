{#- pyradiomics features carried from imaging.radiomics into the marts. Mart columns keep pyradiomics' full
    lower-cased names (original_<class>_<feature>); the lake may name them with or without the `original_`
    image-type prefix, both are read. One list, so staging and marts cannot drift apart. -#}
{% macro radiomics_features() %}
  {{ return([
    'original_firstorder_mean', 'original_firstorder_median', 'original_firstorder_variance',
    'original_firstorder_entropy', 'original_firstorder_energy', 'original_firstorder_skewness',
    'original_firstorder_kurtosis', 'original_firstorder_10percentile', 'original_firstorder_90percentile',
    'original_shape_meshvolume', 'original_shape_sphericity', 'original_shape_maximum3ddiameter',
    'original_shape_surfacearea', 'original_glcm_contrast', 'original_glcm_correlation',
  ]) }}
{% endmacro %}
